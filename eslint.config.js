// `npm run lint` (run by ./scripts/test): typescript-eslint's recommended rules plus the house rules of STYLE.md that a
// linter can hold — thin commands that import no other command and do not write to the terminal themselves, providers
// that never print, and lines a reader can see whole.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const NO_TERMINAL_WRITES = {
  selector: "MemberExpression[object.object.name='process'][object.property.name=/^std(out|err)$/][property.name='write']",
  message: 'write through src/ui (output.ts), not process.stdout/stderr',
}
const NO_COMMAND_IMPORTS = 'a command does not import another command: move what is shared into src/docker, src/ssh, src/core or src/ui'

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', '.belt/**', '.demo/**', 'bench/results.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly',
        AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', structuredClone: 'readonly'},
    },
    rules: {
      // An empty catch is how belt says "best effort" (cleanup, optional probes); it is written on purpose.
      'no-empty': ['error', {allowEmptyCatch: true}],
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
      'max-len': ['error', {code: 160, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true}],
    },
  },
  {
    files: ['src/commands/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', {max: 60, skipBlankLines: true, skipComments: true}],
      'no-restricted-syntax': ['error', NO_TERMINAL_WRITES],
    },
  },
  {files: ['src/commands/*.ts'], rules: {'no-restricted-imports': ['error', {patterns: [{regex: '^\\./', message: NO_COMMAND_IMPORTS}]}]}},
  {
    files: ['src/commands/*/*.ts'],
    rules: {'no-restricted-imports': ['error', {patterns: [{regex: '^\\.\\.?/(?!\\.\\./)', message: NO_COMMAND_IMPORTS}]}]},
  },
  {files: ['src/providers/**/*.ts'], rules: {'no-restricted-syntax': ['error', NO_TERMINAL_WRITES]}},
)
