import { Command, Option } from 'commander';
import { createLogger, type LogLevel } from '../observability/logger.js';
import { ScaledClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { startControlServer } from '../sim/control.js';
import { formatSummary, populateWorld, runScenario } from '../sim/runner.js';
import { ACTION_KINDS, ScenarioError, loadScenarioFile, type Scenario } from '../sim/scenario.js';
import { DEFAULT_SCENARIO, builtInScenario, builtInScenarioNames } from '../sim/scenarios.js';
import { SimWorld } from '../sim/world.js';

async function resolveScenario(nameOrPath: string): Promise<Scenario> {
  return builtInScenario(nameOrPath) ?? loadScenarioFile(nameOrPath);
}

/** `spot-guard simulate`: the built-in simulated world, with real agents running against it. */
export function simulateCommand(): Command {
  const cmd = new Command('simulate')
    // `simulate serve --scenario x`: options after a subcommand belong to it, not to `simulate`.
    .enablePositionalOptions()
    .description('run a scenario in the simulated world (real agents, simulated EC2 + Kubernetes over loopback HTTP)')
    .option('-s, --scenario <name|file>', `built-in scenario (${builtInScenarioNames().join(', ')}) or a YAML/JSON file`, DEFAULT_SCENARIO)
    .option('--speed <n>', 'simulated seconds per real second (overrides the scenario)')
    .option('--json', 'print the summary as JSON instead of the timeline')
    .addOption(new Option('--agent-log-level <level>', 'log level of the agents').default('warn'))
    .option('--list', 'list the built-in scenarios')
    .action(async (opts: { scenario: string; speed?: string; json?: boolean; agentLogLevel: LogLevel; list?: boolean }) => {
      if (opts.list) {
        for (const name of builtInScenarioNames()) console.log(`${name.padEnd(20)} ${builtInScenario(name)?.description ?? ''}`);
        return;
      }
      let scenario: Scenario;
      try {
        scenario = await resolveScenario(opts.scenario);
      } catch (err) {
        return cmd.error(err instanceof ScenarioError ? err.message : errorMessage(err), { exitCode: 2 });
      }
      if (opts.speed !== undefined) {
        const speed = Number(opts.speed);
        if (!(speed > 0 && speed <= 1000)) cmd.error(`invalid --speed: "${opts.speed}" is not a number in (0, 1000]`, { exitCode: 2 });
        scenario.speed = speed;
      }
      const agentLogger = createLogger({ level: opts.agentLogLevel, json: false, destination: process.stderr });
      const worldLogger = createLogger({ level: 'warn', json: false, destination: process.stderr });
      if (!opts.json) {
        console.log(`Scenario "${scenario.name}": ${scenario.description}`);
        console.log(`(speed ×${scenario.speed}; times are simulated seconds since the world was ready)\n`);
      }
      const summary = await runScenario(scenario, {
        agentLogger,
        worldLogger,
        ...(opts.json ? {} : { print: (line: string) => console.log(line) }),
      });
      if (opts.json) console.log(JSON.stringify({ ...summary, entries: undefined }));
      else console.log(formatSummary(summary));
      if (!summary.settled) process.exitCode = 1;
    });

  cmd
    .command('serve')
    .description('keep a simulated world up; prints one JSON line with its endpoints')
    .option('-s, --scenario <name|file>', 'world to build (its nodes and workloads; its script is not run)', DEFAULT_SCENARIO)
    .option('--speed <n>', 'simulated seconds per real second', '1')
    .option('--no-agents', 'do not start agents (point your own `spot-guard run` at the world)')
    .option('--control-port <port>', 'port of the control endpoint', '0')
    .addOption(new Option('--agent-log-level <level>', 'log level of the agents').default('info'))
    .action(async (opts: { scenario: string; speed: string; agents: boolean; controlPort: string; agentLogLevel: LogLevel }) => {
      const scenario = await resolveScenario(opts.scenario).catch((err: unknown) => cmd.error(errorMessage(err), { exitCode: 2 }));
      const clock = new ScaledClock(Number(opts.speed) || 1);
      const logger = createLogger({ level: opts.agentLogLevel, json: false, destination: process.stderr });
      const world = new SimWorld({ clock, logger, imdsMode: scenario.imdsMode, aemmDynamicTimes: scenario.aemmDynamicTimes });
      await world.start();
      await populateWorld(world, scenario);
      const startOne = async (node: string) => {
        await world.startAgent(node, scenario.agent, { logger });
      };
      if (opts.agents) {
        // As a DaemonSet: every node, including the ones Auto Scaling adds later.
        const withoutAgent = new Set(scenario.nodes.filter((n) => !n.agent).map((n) => n.name));
        await world.runAgentsOnAllNodes(scenario.agent, { logger }, { skip: (n) => withoutAgent.has(n) });
      }
      const control = await startControlServer(world, startOne, Number(opts.controlPort));
      console.log(
        JSON.stringify({
          kubernetesApi: world.kube.url,
          kubeconfig: world.kubeconfigPath,
          control: control.url,
          ...(world.autoscaling ? { autoScaling: world.autoscaling.url, awsRegion: world.region } : {}),
          nodes: Object.fromEntries(world.nodeNames().map((n) => [n, { imds: world.imds(n).url, instanceId: world.node(n).instanceId }])),
        }),
      );
      const shutdown = async () => {
        await control.close();
        await world.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown());
      process.once('SIGTERM', () => void shutdown());
    });

  cmd
    .command('trigger')
    .description('trigger something on a node of a running `simulate serve` world')
    .argument('<node>', 'node name')
    .argument('<what>', ACTION_KINDS.join(' | '))
    .requiredOption('--control <url>', 'control URL printed by `simulate serve`')
    .option('--action <a>', 'spot-itn: terminate | stop | hibernate')
    .option('--code <code>', 'scheduled-event code (e.g. system-reboot)')
    .option('--event-id <id>', 'scheduled event id')
    .action(async (node: string, what: string, opts: { control: string; action?: string; code?: string; eventId?: string }) => {
      const res = await fetch(`${opts.control.replace(/\/$/, '')}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ node, do: what, action: opts.action, code: opts.code, eventId: opts.eventId }),
      }).catch((err: unknown) => cmd.error(`cannot reach ${opts.control}: ${errorMessage(err)}`, { exitCode: 1 }));
      const text = await res.text();
      if (!res.ok) cmd.error(`trigger failed (${res.status}): ${text.trim()}`, { exitCode: 1 });
      console.log(text.trim());
    });
  return cmd;
}
