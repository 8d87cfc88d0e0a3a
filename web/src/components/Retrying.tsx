"use client";
// Tries again after Retry-After seconds, and again, until it works: reloads the page (the proxy
// then refreshes the tokens if it can), or calls `onRetry`.
import { useEffect, useState } from "react";

export function Retrying({ seconds, onRetry }: { seconds: number; onRetry?: () => void }) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setTimeout(() => {
      if (onRetry) onRetry();
      else window.location.reload();
      setTick((n) => n + 1);
    }, Math.max(1, seconds) * 1000);
    return () => clearTimeout(timer);
  }, [tick, seconds, onRetry]);
  return <p role="status">Retrying in {seconds} s…</p>;
}
