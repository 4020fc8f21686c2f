// The platform packages: napi-rs triple -> Rust target and the zig target that links it (glibc
// builds against glibc 2.17). Read by build-platforms.mjs and pack.mjs.
export const PLATFORMS = {
  'linux-x64-gnu': { rust: 'x86_64-unknown-linux-gnu', zig: 'x86_64-linux-gnu.2.17' },
  'linux-arm64-gnu': { rust: 'aarch64-unknown-linux-gnu', zig: 'aarch64-linux-gnu.2.17' },
  'linux-x64-musl': { rust: 'x86_64-unknown-linux-musl', zig: 'x86_64-linux-musl' },
  'linux-arm64-musl': { rust: 'aarch64-unknown-linux-musl', zig: 'aarch64-linux-musl' },
};

/** The napi-rs triple of a Rust target named in package.json's `napi.targets`. */
export function tripleOf(rustTarget) {
  const found = Object.entries(PLATFORMS).find(([, t]) => t.rust === rustTarget);
  if (!found) throw new Error(`no platform package for the Rust target ${rustTarget} (known: ${Object.values(PLATFORMS).map((t) => t.rust).join(', ')})`);
  return found[0];
}
