// Options shared by several commands, defined once so their names, defaults and help agree.
import { Option } from 'commander';
import { BACKEND_CHOICES } from '../backend.js';

export function backendOption(): Option {
  return new Option('--backend <name>', 'TensorFlow.js backend: auto picks GPU, then native CPU, then pure JS')
    .choices([...BACKEND_CHOICES])
    .default('auto');
}

export function jsonOption(): Option {
  return new Option('--json', 'print one JSON document on stdout (progress goes to stderr)');
}
