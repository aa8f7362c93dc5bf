/** Spec arguments are parsed by core's shared helpers (one implementation for every adapter). */
export {
  type BackendArgs as ParsedArgs,
  parseBackendArgs as parseArgs,
  positiveNumberOption as numberOption,
} from '@libswarm/core'
