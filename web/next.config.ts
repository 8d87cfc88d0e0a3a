import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // No telemetry, no image optimisation service, no powered-by header.
  poweredByHeader: false,
  images: { unoptimized: true },
};

export default nextConfig;
