// /signed-out: where sign-out (and the SSO's end-session redirect) lands, and where a failed
// sign-in explains itself.
import { SignedOut } from "@/components/Status";

const MESSAGES: Record<string, string> = {
  "login-expired": "The sign-in took too long or was started elsewhere. Try again.",
  "login-failed": "The sign-in could not be completed. Try again.",
  unavailable: "The auth server is unavailable. Try again in a moment.",
};

export default async function SignedOutPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const { error } = await searchParams;
  return <SignedOut message={error ? MESSAGES[error] : "You have been signed out."} />;
}
