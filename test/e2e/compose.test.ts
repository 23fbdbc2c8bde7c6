/**
 * The compose files, validated offline with Debian's docker-compose 1.29.2 (`npm run setup` installs it; no
 * Docker engine needed): each file passes `config -q`, has the expected services, wires worker / temporal /
 * ui / postgres / admin steps with depends_on conditions, lets exactly one worker own the output folder, and
 * takes every secret from the host environment (never a value in a file). Missing docker-compose FAILS.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/shared/constants';

const ROOT = path.join(__dirname, '..', '..');

/** Sentinel secrets: they must reach the rendered config through the environment only. */
const SECRETS = {
  POSTGRES_PASSWORD: 'pg-SENTINEL-compose-test',
  OPENAI_API_KEY: 'sk-SENTINEL-compose-test',
  SERPER_API_KEY: 'serper-SENTINEL-compose-test',
  TAVILY_API_KEY: 'tavily-SENTINEL-compose-test',
  JINA_API_KEY: 'jina-SENTINEL-compose-test',
};
const SECRET_NAME = /(KEY|PASSWORD|PWD|SECRET|TOKEN)$/;

interface Service {
  image?: string;
  build?: { context: string } | string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: (string | { source?: string; target: string })[];
  ports?: unknown[];
  healthcheck?: { test: string[] | string };
  security_opt?: string[];
  profiles?: string[];
  deploy?: { replicas?: number };
  scale?: number;
}
interface ComposeModel {
  services: Record<string, Service>;
}

interface Expected {
  services: string[];
  /** service → {dependency: condition} that must be present. */
  wiring: Record<string, Record<string, string>>;
  /** Temporal address the workers must use. */
  temporalService: string;
}

const FILES: Record<string, Expected> = {
  'docker-compose.yml': {
    services: ['cli', 'output-worker', 'postgresql', 'temporal', 'temporal-create-namespace', 'temporal-schema', 'temporal-ui', 'worker'],
    wiring: {
      'temporal-schema': { postgresql: 'service_healthy' },
      temporal: { 'temporal-schema': 'service_completed_successfully' },
      'temporal-create-namespace': { temporal: 'service_healthy' },
      'temporal-ui': { temporal: 'service_healthy' },
      worker: { temporal: 'service_healthy', 'temporal-create-namespace': 'service_completed_successfully' },
      'output-worker': { temporal: 'service_healthy', 'temporal-create-namespace': 'service_completed_successfully' },
    },
    temporalService: 'temporal',
  },
  'docker-compose.dev.yml': {
    services: ['cli', 'output-worker', 'temporal', 'worker'],
    wiring: {
      worker: { temporal: 'service_healthy' },
      'output-worker': { temporal: 'service_healthy' },
    },
    temporalService: 'temporal',
  },
};

/** A minimal environment: no secrets of the developer's shell leak into the test, only the sentinels. */
function composeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...SECRETS, ...extra };
}

function dockerCompose(args: string[], env = composeEnv()): { code: number | null; stdout: string; stderr: string; error?: Error } {
  const r = spawnSync('docker-compose', ['--project-name', 'qasynth-ci', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

function requireDockerCompose(): void {
  const r = dockerCompose(['version']);
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail(
      'docker-compose is not installed, so the compose files cannot be validated. Install Debian\'s docker-compose 1.29.2 ' +
        '(`npm run setup` does, as root; or `sudo apt-get install docker-compose`). No Docker engine is needed.',
    );
  }
  assert.equal(r.code, 0, `docker-compose version failed: ${r.stderr || r.error?.message}`);
}

function commandOf(s: Service): string[] {
  const c = s.command;
  return Array.isArray(c) ? c : typeof c === 'string' ? c.split(/\s+/) : [];
}

/** Does this service run a qasynth worker that polls the output task queue? */
function servesOutput(s: Service): boolean {
  const cmd = commandOf(s);
  if (!cmd.includes('worker') || !cmd.some((a) => a.endsWith('main.js'))) return false;
  if (cmd.includes('--no-output')) return false;
  const i = cmd.indexOf('--roles');
  return i < 0 || cmd[i + 1].split(',').includes('output');
}

function volumeTargets(s: Service): string[] {
  return (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[1] : v.target));
}

/** Every `${VAR...}` reference in a string: name and whether it carries a default value (`:-` / `-`). */
function variableRefs(text: string): { name: string; hasDefault: boolean }[] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?/g)].map((m) => ({ name: m[1], hasDefault: m[2] === ':-' || m[2] === '-' }));
}

test('docker-compose (Debian 1.29.2) is installed for offline validation', () => {
  requireDockerCompose();
});

for (const [file, expected] of Object.entries(FILES)) {
  describe(file, () => {
    const full = path.join(ROOT, file);
    const raw = () => fs.readFileSync(full, 'utf8');
    let cached: ComposeModel | undefined;
    const rendered = (): ComposeModel => {
      if (cached) return cached;
      const r = dockerCompose(['-f', file, 'config']);
      assert.equal(r.code, 0, `docker-compose -f ${file} config failed:\n${r.stderr}`);
      return (cached = YAML.parse(r.stdout) as ComposeModel);
    };

    test('exists', () => assert.ok(fs.existsSync(full), `${file} is missing`));

    test('`docker-compose config -q` accepts it without warnings', () => {
      requireDockerCompose();
      const r = dockerCompose(['-f', file, 'config', '-q']);
      assert.equal(r.code, 0, `docker-compose -f ${file} config -q failed:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /WARNING|not set/i, `warnings from docker-compose:\n${r.stderr}`);
    });

    test('`config --services` lists the expected services', () => {
      requireDockerCompose();
      const r = dockerCompose(['-f', file, 'config', '--services']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), expected.services);
    });

    test('services are wired with depends_on conditions', () => {
      requireDockerCompose();
      const m = rendered();
      for (const [svc, deps] of Object.entries(expected.wiring)) {
        for (const [dep, condition] of Object.entries(deps)) {
          assert.equal(m.services[svc]?.depends_on?.[dep]?.condition, condition, `${svc} depends_on ${dep}: condition ${condition}`);
        }
      }
      // Every service_healthy dependency has a healthcheck to satisfy it.
      for (const [svc, s] of Object.entries(m.services)) {
        for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
          assert.ok(m.services[dep], `${svc} depends on unknown service ${dep}`);
          if (condition === 'service_healthy') assert.ok(m.services[dep].healthcheck, `${dep} needs a healthcheck (${svc} waits for it)`);
        }
      }
    });

    test('workers: built from the repository Dockerfile, pointed at the stack\'s Temporal, scalable, only one owns the output folder', () => {
      requireDockerCompose();
      const m = rendered();
      const worker = m.services.worker;
      const build = typeof worker.build === 'string' ? worker.build : worker.build?.context;
      assert.equal(path.resolve(ROOT, build ?? '?'), path.resolve(ROOT), 'worker is built from the repository root (its Dockerfile)');
      assert.ok(fs.existsSync(path.join(ROOT, 'Dockerfile')));
      assert.deepEqual(commandOf(worker).slice(0, 3), ['node', 'dist/cli/main.js', 'worker']);
      assert.ok(commandOf(worker).includes('--no-output'), 'the scalable worker must not serve the output queue');
      assert.equal(worker.environment?.TEMPORAL_ADDRESS, `${expected.temporalService}:7233`);
      assert.ok(!worker.ports?.length, 'a scaled service cannot publish fixed host ports');
      assert.ok(!(worker as { container_name?: string }).container_name, 'a scaled service cannot have a container_name');
      for (const opt of ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined']) {
        assert.ok(worker.security_opt?.includes(opt), `worker needs security_opt ${opt} for the bubblewrap python sandbox`);
      }

      const owners = Object.entries(m.services).filter(([, s]) => servesOutput(s)).map(([n]) => n);
      assert.deepEqual(owners, ['output-worker'], 'exactly one service serves the output task queue');
      const out = m.services['output-worker'];
      assert.ok(volumeTargets(out).includes('/data/out'), 'the output worker mounts the output folder at /data/out');
      assert.ok(!(out.deploy?.replicas && out.deploy.replicas > 1) && !(out.scale && out.scale > 1), 'the output worker is not scaled');
      for (const [name, s] of Object.entries(m.services)) {
        if (name !== 'output-worker' && name !== 'cli') assert.ok(!volumeTargets(s).includes('/data/out'), `${name} must not mount the output folder`);
      }
    });

    test('no secret value is hard-coded; secrets reach the services from the host environment', () => {
      requireDockerCompose();
      const text = raw();
      const parsed = YAML.parse(text, { merge: true }) as ComposeModel;
      assert.doesNotMatch(text, /\bsk-[A-Za-z0-9_-]{8,}/, 'no OpenAI-style key in the file');
      for (const [svc, s] of Object.entries(parsed.services)) {
        for (const [name, value] of Object.entries(s.environment ?? {})) {
          if (!SECRET_NAME.test(name)) continue;
          if (value === null || value === undefined) continue; // pass-through from the host environment
          const refs = variableRefs(String(value));
          assert.ok(refs.length > 0 && String(value).trim().startsWith('${'), `${svc}.${name}: a secret must come from the environment, got a literal`);
          for (const r of refs) {
            assert.ok(!r.hasDefault, `${svc}.${name}: \${${r.name}} must not carry a default value (a default is a hard-coded secret)`);
          }
        }
      }
      // The rendered config carries exactly the sentinels from the environment where secrets are used …
      const m = rendered();
      assert.equal(m.services.worker.environment?.OPENAI_API_KEY, SECRETS.OPENAI_API_KEY);
      assert.equal(m.services.worker.environment?.SERPER_API_KEY, SECRETS.SERPER_API_KEY);
      // … and nothing that does not need them gets them.
      for (const name of ['output-worker', 'cli', 'temporal', 'temporal-ui']) {
        const env = JSON.stringify(m.services[name]?.environment ?? {});
        assert.ok(!env.includes(SECRETS.OPENAI_API_KEY), `${name} does not get OPENAI_API_KEY`);
      }
      // Without the variables, no secret value appears at all.
      const r = dockerCompose(['-f', file, 'config'], { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', POSTGRES_PASSWORD: 'x' });
      assert.equal(r.code, 0, r.stderr);
      for (const v of Object.values(SECRETS)) assert.ok(!r.stdout.includes(v));
      const rendered2 = YAML.parse(r.stdout) as ComposeModel;
      assert.equal(rendered2.services.worker.environment?.OPENAI_API_KEY ?? null, null, 'unset on the host → unset in the container');
    });
  });
}

describe('docker-compose.yml (PostgreSQL-backed Temporal)', () => {
  const file = 'docker-compose.yml';
  let cached: ComposeModel | undefined;
  const model = (): ComposeModel => {
    if (cached) return cached;
    const r = dockerCompose(['-f', file, 'config']);
    assert.equal(r.code, 0, r.stderr);
    return (cached = YAML.parse(r.stdout) as ComposeModel);
  };

  test('refuses to render without POSTGRES_PASSWORD, naming the variable', () => {
    requireDockerCompose();
    const r = dockerCompose(['-f', file, 'config', '-q'], { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /POSTGRES_PASSWORD/);
  });

  test('PostgreSQL 16, temporalio/server on postgres12 with the dynamicconfig folder, admin-tools steps, UI', () => {
    requireDockerCompose();
    const m = model();
    assert.match(m.services.postgresql.image ?? '', /^postgres:16/);
    assert.equal(m.services.postgresql.environment?.POSTGRES_PASSWORD, SECRETS.POSTGRES_PASSWORD);
    assert.ok(m.services.postgresql.healthcheck, 'postgres healthcheck (pg_isready)');
    assert.ok(!m.services.postgresql.ports?.length, 'PostgreSQL is not published on the host');

    const t = m.services.temporal;
    assert.match(t.image ?? '', /^temporalio\/server:/);
    assert.equal(t.environment?.DB, 'postgres12');
    assert.equal(t.environment?.POSTGRES_SEEDS, 'postgresql');
    assert.equal(t.environment?.POSTGRES_PWD, SECRETS.POSTGRES_PASSWORD);
    const dc = t.environment?.DYNAMIC_CONFIG_FILE_PATH ?? '';
    const mount = (t.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).find((v) => v.includes('/etc/temporal/config/dynamicconfig'));
    assert.ok(mount, 'dynamicconfig folder mounted');
    const hostDir = mount!.split(':')[0];
    assert.ok(fs.existsSync(path.join(path.resolve(ROOT, hostDir), path.basename(dc))), `dynamic config file ${dc} exists in ${hostDir}`);
    assert.ok(t.healthcheck);

    for (const step of ['temporal-schema', 'temporal-create-namespace']) {
      const s = m.services[step];
      assert.match(s.image ?? '', /^temporalio\/admin-tools:/);
      const script = commandOf(s).find((a) => a.startsWith('/scripts/'))!;
      assert.ok(script, `${step} runs a script from /scripts`);
      const scriptsMount = (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).find((v) => v.split(':')[1] === '/scripts');
      const hostScript = path.join(path.resolve(ROOT, scriptsMount!.split(':')[0]), path.basename(script));
      assert.ok(fs.existsSync(hostScript), `${hostScript} exists`);
      assert.equal(spawnSync('sh', ['-n', hostScript]).status, 0, `${hostScript} is valid sh`);
    }
    assert.match(m.services['temporal-ui'].image ?? '', /^temporalio\/ui:/);
    assert.equal(m.services['temporal-ui'].environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  test('the admin step creates the namespace and every qasynth search attribute as Keyword (typo fixed)', () => {
    const script = fs.readFileSync(path.join(ROOT, 'deploy', 'scripts', 'create-namespace.sh'), 'utf8');
    assert.match(script, /temporal operator namespace create/);
    assert.match(script, /temporal operator search-attribute create[^\n]*--type Keyword/);
    for (const sa of Object.values(SEARCH_ATTRIBUTES)) assert.ok(script.includes(sa), `registers ${sa}`);
    assert.doesNotMatch(script, /ATTdMPTS/);
    const m = model();
    assert.equal(m.services['temporal-create-namespace'].environment?.NAMESPACE, m.services.worker.environment?.TEMPORAL_NAMESPACE, 'workers use the namespace the admin step creates');
  });
});

test('docker-compose.dev.yml: the dev server registers the search attributes', () => {
  requireDockerCompose();
  const r = dockerCompose(['-f', 'docker-compose.dev.yml', 'config']);
  assert.equal(r.code, 0, r.stderr);
  const cmd = commandOf((YAML.parse(r.stdout) as ComposeModel).services.temporal);
  assert.deepEqual(cmd.slice(0, 2), ['server', 'start-dev']);
  for (const sa of Object.values(SEARCH_ATTRIBUTES)) assert.ok(cmd.includes(`${sa}=Keyword`), `--search-attribute ${sa}=Keyword`);
});

test('Dockerfile: node:20-bookworm-slim with the tools\' Debian packages, no secrets baked in', () => {
  const df = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const froms = [...df.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 1 && froms.every((f) => f === 'node:20-bookworm-slim'), `FROM node:20-bookworm-slim, got ${froms.join(', ')}`);
  for (const pkg of ['python3', 'python3-numpy', 'python3-sympy', 'bubblewrap', 'dict-foldoc', 'dict-jargon']) {
    assert.match(df, new RegExp(`apt-get install[^]*?\\s${pkg.replace(/[-]/g, '\\-')}(\\s|$)`, 'm'), `installs ${pkg}`);
  }
  for (const m of df.matchAll(/^(?:ENV|ARG)\s+(.+)$/gm)) {
    assert.doesNotMatch(m[1], /(KEY|PASSWORD|PWD|SECRET|TOKEN)\b/, `no secret in ${m[0]}`);
  }
  const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['.env', 'node_modules', '.git']) assert.ok(ignore.includes(p), `.dockerignore excludes ${p}`);
});
