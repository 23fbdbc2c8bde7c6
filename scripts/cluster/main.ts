/**
 * `npm run cluster -- <command>`: the local multi-service Temporal cluster on PostgreSQL (see ./cluster.ts).
 *
 *   build               build temporal-server + temporal-sql-tool into .tools/ (cached; cold ~5 min)
 *   start               start PostgreSQL and the four services (builds first if needed); prints the address
 *   status              which processes run, ports, address
 *   stop                stop everything; the data stays (start resumes every run)
 *   clean               stop and delete the state folder
 *   kill <service>      kill -9 one service (history, matching, frontend, worker)
 *   restart <service>   start a killed service again and wait until it is ready
 *
 * State folder: .state/cluster/ (or $QASYNTH_CLUSTER_DIR). Exit code 1 on any failure, with the step that failed.
 */
import { ensureTemporalServer } from './build';
import {
  cleanCluster,
  ClusterSetupError,
  clusterStatus,
  defaultStateDir,
  killService,
  projectRootFromHere,
  restartService,
  SERVICES,
  startCluster,
  stopCluster,
  type ServiceName,
} from './cluster';

const err = (s: string) => process.stderr.write(`${s}\n`);

function serviceArg(name: string | undefined): ServiceName {
  if (!name || !(SERVICES as readonly string[]).includes(name)) {
    throw new ClusterSetupError(`expected a service name (${SERVICES.join(', ')}), got ${JSON.stringify(name ?? '')}`);
  }
  return name as ServiceName;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, arg] = argv;
  const stateDir = defaultStateDir();
  switch (cmd) {
    case 'build': {
      const b = ensureTemporalServer(projectRootFromHere(), err);
      process.stdout.write(`${b.server}\n${b.sqlTool}\n`);
      err(b.built ? `built in ${b.seconds} s` : 'already built');
      return 0;
    }
    case 'start': {
      const { state, timings, reused } = await startCluster({ log: err });
      if (!reused) err(`started in ${timings.total} s (build ${timings.build}, PostgreSQL ${timings.postgres}, schemas ${timings.schema}, services ${timings.services}, namespace ${timings.namespace})`);
      else err('already running');
      err(`use it with: TEMPORAL_ADDRESS=${state.address} qasynth run …   (stop: npm run cluster -- stop)`);
      process.stdout.write(`${state.address}\n`);
      return 0;
    }
    case 'status': {
      const st = await clusterStatus(stateDir);
      if (!st) {
        process.stdout.write(`no cluster in ${stateDir}\n`);
        return 1;
      }
      const s = st.state;
      process.stdout.write(`Temporal ${s.version} cluster, state ${s.stateDir}, frontend ${s.address}\n`);
      process.stdout.write(`  postgres  ${st.postgres ? 'running' : 'stopped'}  127.0.0.1:${s.postgresPort}  data ${s.dataDir}\n`);
      for (const svc of SERVICES) {
        const p = s.ports[svc];
        process.stdout.write(`  ${svc.padEnd(9)} ${st.running[svc] ? `running (pid ${s.pids[svc]})` : 'stopped'}  grpc ${p.grpc}, membership ${p.membership}${p.http ? `, http ${p.http}` : ''}\n`);
      }
      return st.postgres && SERVICES.every((svc) => st.running[svc]) ? 0 : 1;
    }
    case 'stop':
      err((await stopCluster({ stateDir })) ? 'stopped (data kept; `start` resumes)' : `no cluster in ${stateDir}`);
      return 0;
    case 'clean':
      await cleanCluster({ stateDir });
      err(`removed ${stateDir}`);
      return 0;
    case 'kill': {
      const svc = serviceArg(arg);
      err(`killed ${svc} (pid ${await killService(svc, stateDir)}) with SIGKILL`);
      return 0;
    }
    case 'restart': {
      const svc = serviceArg(arg);
      const started = Date.now();
      const pid = await restartService(svc, stateDir);
      err(`${svc} running again (pid ${pid}), ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    }
    default:
      err('usage: npm run cluster -- build | start | status | stop | clean | kill <service> | restart <service>');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    err(`error: ${e instanceof ClusterSetupError ? e.message : ((e as Error).stack ?? String(e))}`);
    process.exit(1);
  },
);
