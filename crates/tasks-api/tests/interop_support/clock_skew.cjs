// Preloaded by the interop tests (NODE_OPTIONS=--require=…) into the Better Auth server only.
// It shifts the server's clock by BA_CLOCK_SKEW_SECONDS, so that a real Better Auth mints tokens
// that are already expired (negative skew) or issued in the future (positive skew), exactly as
// an SSO host with a wrong clock would. Inside the server everything stays consistent: sessions,
// authorization codes and the signed login query all use the same shifted clock.
//
// Any other node process that inherits NODE_OPTIONS (npm ci in start.sh) is left alone.
"use strict";

const skewMs = Number(process.env.BA_CLOCK_SKEW_SECONDS || 0) * 1000;
if (skewMs && /server\.mjs$/.test(process.argv[1] || "")) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  const now = () => realNow() + skewMs;
  // A Proxy (not a subclass) keeps `x instanceof Date` and `Date.prototype` exactly as they were.
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length ? args : [now()], newTarget);
    },
    apply() {
      return new RealDate(now()).toString();
    },
    get(target, prop, receiver) {
      if (prop === "now") return now;
      return Reflect.get(target, prop, receiver);
    },
  });
  process.stderr.write(`[clock-skew] this Better Auth's clock runs ${skewMs / 1000}s off\n`);
}
