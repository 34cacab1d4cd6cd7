import type { KubeConfig } from '@kubernetes/client-node';
import { Command } from 'commander';
import { startAgent } from '../agent.js';
import { addConfigOptions } from '../config/load.js';
import { redactConfig } from '../config/redact.js';
import { loadKubeConfig } from '../kube/client.js';
import { createLogger } from '../observability/logger.js';
import { systemClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { loadConfigOrExit } from './config-command.js';

/** `spot-guard run`: the agent, configured like NTH in IMDS mode. */
export function runCommand(): Command {
  const cmd = new Command('run').description('run the agent on this node (as a DaemonSet pod)');
  addConfigOptions(cmd);
  cmd.action(async () => {
    const { config, warnings } = loadConfigOrExit(cmd);
    const logger = createLogger({ level: config.logLevel, json: config.jsonLogging });
    for (const w of warnings) logger.warn(w);
    logger.info({ config: redactConfig(config) }, 'spot-guard starting');
    let kubeConfig: KubeConfig;
    try {
      kubeConfig = loadKubeConfig(config.kubeconfig ? { kubeconfigPath: config.kubeconfig } : {});
    } catch (err) {
      return cmd.error(`cannot configure the Kubernetes client: ${errorMessage(err)}`, { exitCode: 2 });
    }
    const agent = await startAgent({ config, clock: systemClock, logger, kubeConfig });
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn(`${sig} again: stopping now`);
        void agent.kill();
        return;
      }
      logger.info(`${sig} received`);
      void agent.stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    await agent.done;
    if (agent.fatal) process.exitCode = 1;
  });
  return cmd;
}
