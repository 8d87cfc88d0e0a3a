// The screens for a call that did not succeed: signed out, not allowed (403), and
// "auth server unavailable, retrying" (503 + Retry-After), which retries by itself.
import { API_UNREACHABLE, type Failure } from "@/lib/types";
import { Retrying } from "./Retrying";

export function SignedOut({ message }: { message?: string }) {
  return (
    <section className="card status" aria-labelledby="status-title">
      <h1 id="status-title">You are signed out</h1>
      <p>{message ?? "Sign in to see your tasks."}</p>
      <a className="button" href="/auth/login">Sign in</a>
    </section>
  );
}

export function NotAllowed({ detail }: { detail?: string }) {
  return (
    <section className="card status" aria-labelledby="status-title">
      <h1 id="status-title">Not allowed</h1>
      <p>Your account does not have access to this page.{detail ? ` (${detail})` : ""}</p>
    </section>
  );
}

export function Unavailable({ retryAfter, onRetry, api }: { retryAfter?: number; onRetry?: () => void; api?: boolean }) {
  return (
    <section className="card status" aria-labelledby="status-title">
      <h1 id="status-title">{api ? "Service unavailable" : "Auth server unavailable"}</h1>
      <Retrying seconds={retryAfter ?? 2} onRetry={onRetry} />
    </section>
  );
}

export function FailureScreen({ failure, onRetry }: { failure: Failure; onRetry?: () => void }) {
  switch (failure.kind) {
    case "signed-out":
      return <SignedOut message="Your session has ended. Sign in again." />;
    case "forbidden":
      return <NotAllowed detail={failure.detail} />;
    case "unavailable":
      return <Unavailable retryAfter={failure.retryAfter} onRetry={onRetry} api={failure.detail === API_UNREACHABLE} />;
    default:
      return (
        <section className="card status" role="alert">
          <h1>Something went wrong</h1>
          <p>{failure.detail}</p>
        </section>
      );
  }
}
