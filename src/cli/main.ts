import { Command } from 'commander';
import { configCommand } from './config-command.js';
import { runCommand } from './run-command.js';
import { simulateCommand } from './simulate-command.js';

const program = new Command('spot-guard')
  .description('Keeps Kubernetes workloads safe on EC2 spot: NTH-compatible interruption handling plus replacement-before-drain.')
  .version('0.1.0')
  .enablePositionalOptions();
program.addCommand(runCommand());
program.addCommand(simulateCommand());
program.addCommand(configCommand());

await program.parseAsync(process.argv);
