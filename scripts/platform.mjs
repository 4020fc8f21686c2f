// The napi-rs platform triple of this process: linux-x64-gnu, darwin-arm64, ...
export function platformTriple() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
  return `${base}-${glibc ? 'gnu' : 'musl'}`;
}
