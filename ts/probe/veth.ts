// A veth pair whose far end sits in a network namespace of its own, for live capture tests and
// the benchmark: frames tcpreplay sends into the far end arrive on the near end, and nothing
// else does (IPv6 is off on both ends, so no neighbour discovery crosses). Needs root.
import { execFileSync, spawnSync } from 'node:child_process';

const run = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export class VethPair {
  readonly ns: string;
  /** The end to capture on (this namespace) and the end to send into (the pair's namespace). */
  readonly near: string;
  readonly far: string;

  constructor(tag: string) {
    const id = `${tag}${process.pid % 100000}`;
    this.ns = `ns${id}`;
    this.near = `${id}a`;
    this.far = `${id}b`;
  }

  /** Null when the pair is up, else why it could not be made (not root, no tools, no rights). */
  create(tools: string[] = []): string | null {
    if (process.getuid?.() !== 0) return 'needs root for a network namespace and a veth pair';
    for (const tool of ['ip', ...tools]) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (apt install iproute2 tcpreplay tcpdump)`;
    }
    try {
      run('ip', 'netns', 'add', this.ns);
    } catch (e) {
      // A container without CAP_NET_ADMIN.
      return `cannot create a network namespace here: ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? (e as Error).message}`;
    }
    run('ip', 'link', 'add', this.near, 'type', 'veth', 'peer', 'name', this.far);
    run('ip', 'link', 'set', this.far, 'netns', this.ns);
    run('sysctl', '-qw', `net.ipv6.conf.${this.near}.disable_ipv6=1`);
    this.inNamespace('sysctl', '-qw', `net.ipv6.conf.${this.far}.disable_ipv6=1`);
    run('ip', 'link', 'set', this.near, 'mtu', '9000', 'up');
    this.inNamespace('ip', 'link', 'set', this.far, 'mtu', '9000', 'up');
    return null;
  }

  /** The arguments that run a command inside the pair's namespace. */
  command(...args: string[]): string[] {
    return ['ip', 'netns', 'exec', this.ns, ...args];
  }

  private inNamespace(...args: string[]): string {
    return run(...this.command(...args));
  }

  destroy(): void {
    spawnSync('ip', ['link', 'del', this.near]);
    spawnSync('ip', ['netns', 'del', this.ns]);
  }
}
