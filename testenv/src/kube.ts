import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdAnswers, freePort, portOpen, startProcess, type WorldProcess, waitFor } from './processes.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** `api`: etcd + kube-apiserver. `full`: also controller-manager, scheduler and kwok with one fake node. */
export type KubeMode = 'api' | 'full';

/** A running local Kubernetes. */
export interface LocalKube {
  mode: KubeMode;
  /** Path of a kubeconfig (client certificate of a system:masters user) for this cluster. */
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** CA, client certificate and key in PEM, for clients that do not read kubeconfigs. */
  tls: { ca: string; cert: string; key: string };
  /** The Kubernetes version the apiserver reports. */
  version: string;
  /** Name of the kwok node in `full` mode. */
  nodeName: string | undefined;
  processes: WorldProcess[];
  ports: number[];
  /** A raw API request (JSON in, JSON out) for test setup and checks. */
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: unknown }>;
  /**
   * Faults of the control plane, for tests of clients that must survive them: the apiserver stopped (connections
   * refused), started again on the same port with the same etcd data, or frozen with SIGSTOP (connections accepted by
   * the kernel, never answered) and thawed with SIGCONT.
   */
  apiserver: {
    stop(): Promise<void>;
    start(): Promise<void>;
    freeze(): void;
    thaw(): void;
  };
  /** Stops every process and removes the temp dir; no process or port is left behind. */
  stop(): Promise<void>;
}

/** The Kubernetes version the binaries are built at (keep in step with testenv/build-binaries.sh). */
export const KUBE_VERSION = 'v1.34.4';

let binDirCache: string | undefined;

/**
 * Builds the local world's binaries when missing (cached outside the repo; see testenv/build-binaries.sh) and
 * returns their directory. The first build takes minutes; later calls are instant.
 */
export function ensureBinaries(): string {
  if (binDirCache) return binDirCache;
  const r = spawnSync('bash', [join(here, '..', 'build-binaries.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`testenv/build-binaries.sh failed with exit code ${r.status}`);
  const lines = r.stdout.trim().split('\n');
  binDirCache = lines[lines.length - 1]!;
  return binDirCache;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A throwaway PKI: CA, apiserver serving cert for 127.0.0.1, admin client cert, service-account key pair. */
export function makePki(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=tether-local-ca'],
    dir,
  );
  const sign = (name: string, subj: string, ext: string) => {
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '3650',
        '-out',
        `${name}.crt`,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  };
  sign(
    'apiserver',
    '/CN=kube-apiserver',
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  sign('admin', '/O=system:masters/CN=tether-admin', 'extendedKeyUsage=clientAuth\n');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

function kubeconfigYaml(server: string, tls: { ca: string; cert: string; key: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(tls.ca)}
users:
- name: admin
  user:
    client-certificate-data: ${b64(tls.cert)}
    client-key-data: ${b64(tls.key)}
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
`;
}

function apiRequest(
  server: string,
  tls: { ca: string; cert: string; key: string },
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      `${server}${path}`,
      {
        method,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        headers: { accept: 'application/json', ...(payload ? { 'content-type': contentType } : {}) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain text answers such as /readyz
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Starts a local Kubernetes on 127.0.0.1 with random free ports and TLS. */
export async function startKube(options: { mode?: KubeMode; logDir?: string } = {}): Promise<LocalKube> {
  const mode = options.mode ?? 'api';
  const bin = ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'tether-kube-'));
  const processes: WorldProcess[] = [];
  const ports: number[] = [];
  const logDir = options.logDir ?? dir;
  const stop = async () => {
    // Reverse start order: controllers before the apiserver, the apiserver before etcd.
    for (const p of [...processes].reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    makePki(dir);
    const tls = {
      ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      cert: readFileSync(join(dir, 'admin.crt'), 'utf8'),
      key: readFileSync(join(dir, 'admin.key'), 'utf8'),
    };
    // freePort() releases a port before its process binds it; on a busy machine another process can take it in
    // between. etcd then exits at once ("address already in use") and the apiserver would wait for it in vain, so
    // etcd is started on new ports (and a new data dir: the failed one may have begun one) until it answers as etcd
    // (the port being open is not enough: it may be the other process that took it).
    let etcdClient = 0;
    let etcdPeer = 0;
    let etcd: WorldProcess | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      [etcdClient, etcdPeer] = [await freePort(), await freePort()];
      const p = startProcess(
        'etcd',
        join(bin, 'etcd'),
        [
          `--data-dir=${join(dir, attempt === 0 ? 'etcd' : `etcd-${attempt}`)}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        { logFile: join(logDir, 'etcd.log') },
      );
      processes.push(p);
      etcd = p;
      await waitFor(async () => !p.running() || (await etcdAnswers(etcdClient)), {
        timeoutMs: 30_000,
        intervalMs: 100,
        describe: () => `etcd not answering on ${etcdClient}\n${p.tail()}`,
      });
      if (p.running()) break;
      processes.pop();
      if (!/address already in use/.test(p.tail())) break;
    }
    if (!etcd?.running()) throw new Error(`etcd exited\n${etcd?.tail() ?? ''}`);
    ports.push(etcdClient, etcdPeer);
    let apiPort = await freePort();

    let server = `https://127.0.0.1:${apiPort}`;
    const launchApiserver = async (): Promise<WorldProcess> => {
      const p = startProcess(
        'kube-apiserver',
        join(bin, 'kube-apiserver'),
        [
          `--etcd-servers=http://127.0.0.1:${etcdClient}`,
          `--cert-dir=${dir}`,
          `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
          `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
          `--client-ca-file=${join(dir, 'ca.crt')}`,
          `--secure-port=${apiPort}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          '--service-cluster-ip-range=10.0.0.0/24',
          '--allow-privileged=true',
          '--authorization-mode=RBAC',
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${join(dir, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
          '--profiling=false',
          '--v=1',
        ],
        { logFile: join(logDir, 'kube-apiserver.log') },
      );
      // Keep start order in `processes` (etcd first): a restarted apiserver takes the old one's place.
      const at = processes.findIndex((x) => x.name === 'kube-apiserver');
      if (at >= 0) processes[at] = p;
      else processes.push(p);
      let exited = false;
      await waitFor(
        async () => {
          // An apiserver that exited will not become ready: stop polling at once.
          if (!p.running()) exited = true;
          return exited || (await apiRequest(server, tls, 'GET', '/readyz')).status === 200;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          describe: () => `kube-apiserver not ready\n${p.tail()}\n--- etcd:\n${etcd.tail(5)}`,
        },
      );
      return p;
    };
    // freePort() releases the port before the apiserver binds it; another process of a busy machine can take it in
    // between. The first start then moves to a new port (the certificates name 127.0.0.1, not a port).
    let apiserver = await launchApiserver();
    for (
      let attempt = 1;
      attempt < 3 && !apiserver.running() && /address already in use/.test(apiserver.tail());
      attempt++
    ) {
      apiPort = await freePort();
      server = `https://127.0.0.1:${apiPort}`;
      apiserver = await launchApiserver();
    }
    ports.push(apiPort);
    if (!apiserver.running()) throw new Error(`kube-apiserver exited\n${apiserver.tail()}`);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, tls), { mode: 0o600 });
    const versionInfo = (await apiRequest(server, tls, 'GET', '/version')).body as { gitVersion: string };

    let nodeName: string | undefined;
    if (mode === 'full') {
      nodeName = await startControllers({ bin, dir, logDir, kubeconfig, processes, ports, server, tls });
    }
    return {
      mode,
      kubeconfig,
      server,
      tls,
      version: versionInfo.gitVersion,
      nodeName,
      processes,
      ports,
      request: (method, path, body, contentType) => apiRequest(server, tls, method, path, body, contentType),
      apiserver: {
        stop: () => apiserver.stop(),
        async start() {
          if (!apiserver.running()) apiserver = await launchApiserver();
        },
        freeze: () => process.kill(apiserver.pid, 'SIGSTOP'),
        thaw: () => process.kill(apiserver.pid, 'SIGCONT'),
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startControllers(ctx: {
  bin: string;
  dir: string;
  logDir: string;
  kubeconfig: string;
  processes: WorldProcess[];
  ports: number[];
  server: string;
  tls: { ca: string; cert: string; key: string };
}): Promise<string> {
  const { bin, dir, logDir, kubeconfig, processes } = ctx;
  const cm = startProcess(
    'kube-controller-manager',
    join(bin, 'kube-controller-manager'),
    [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      // No serving port: nothing scrapes it, and a fixed default port would collide between worlds.
      '--secure-port=0',
      `--service-account-private-key-file=${join(dir, 'sa.key')}`,
      `--root-ca-file=${join(dir, 'ca.crt')}`,
      '--use-service-account-credentials=false',
      '--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle',
      '--v=1',
    ],
    { logFile: join(logDir, 'kube-controller-manager.log') },
  );
  processes.push(cm);
  const scheduler = startProcess(
    'kube-scheduler',
    join(bin, 'kube-scheduler'),
    [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--secure-port=0', '--v=1'],
    { logFile: join(logDir, 'kube-scheduler.log') },
  );
  processes.push(scheduler);
  const kwok = startProcess(
    'kwok',
    join(bin, 'kwok'),
    [
      `--kubeconfig=${kubeconfig}`,
      '--manage-all-nodes=true',
      `--config=${join(here, '..', 'kwok-stages.yaml')}`,
      '--server-address=',
    ],
    { logFile: join(logDir, 'kwok.log') },
  );
  processes.push(kwok);

  const nodeName = 'kwok-node-0';
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: nodeName,
      labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', type: 'kwok' },
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
  const created = await apiRequest(ctx.server, ctx.tls, 'POST', '/api/v1/nodes', node);
  if (created.status !== 201)
    throw new Error(`creating node ${nodeName}: ${created.status} ${JSON.stringify(created.body)}`);
  const describe = () =>
    processes
      .filter((p) => !p.running())
      .map((p) => `${p.name} exited:\n${p.tail()}`)
      .join('\n') || 'still starting';
  await waitFor(
    async () => {
      const r = await apiRequest(ctx.server, ctx.tls, 'GET', `/api/v1/nodes/${nodeName}`);
      const conditions = (r.body as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions;
      return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    },
    { timeoutMs: 60_000, intervalMs: 200, describe: () => `node ${nodeName} not Ready: ${describe()}` },
  );
  // Pods are admitted only once the namespace's default ServiceAccount exists (made by the controller-manager).
  await waitFor(
    async () =>
      (await apiRequest(ctx.server, ctx.tls, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status ===
      200,
    { timeoutMs: 60_000, intervalMs: 200, describe: () => `default ServiceAccount missing: ${describe()}` },
  );
  return nodeName;
}

/** True when no process of `kube` runs and none of its ports accepts connections. */
export async function kubeIsGone(kube: LocalKube): Promise<boolean> {
  if (kube.processes.some((p) => p.running())) return false;
  for (const port of kube.ports) if (await portOpen(port)) return false;
  return true;
}
