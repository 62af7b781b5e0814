// Every table belt prints goes through here: a table is a list of named columns (the JSON word as the key, the
// header in capitals), and the same three choices work on every command that prints one — `--columns a,b,c` (which
// and in what order), `--no-header`, and on list commands `-q` (the first column only: names, one a line, for
// `xargs` and shell loops). Plain text: no colour, no borders, so pipes and NO_COLOR terminals see the same bytes.
import {Flags} from '@oclif/core'
import {UsageError} from '../core/errors.js'

export type Cell = string | number | null | undefined

export interface Column<R> {
  /** What --columns calls it (the JSON field's name where there is one: public_ip, not "PUBLIC IPV4"). */
  key: string
  head: string
  value: (row: R) => Cell
  /** Shown only when --columns names it. */
  extra?: boolean
}

export interface TableChoice {
  /** Keys, in order; null: the default columns. */
  columns: string[] | null
  header: boolean
  quiet: boolean
}

export const DEFAULT_CHOICE: TableChoice = {columns: null, header: true, quiet: false}

/** --columns and --no-header, described with this table's column keys. */
export function tableFlags(columns: readonly Column<never>[]) {
  return {
    columns: Flags.string({
      description: `only these columns, in this order (comma-separated): ${columns.map((c) => c.key).join(', ')}`,
      helpGroup: 'OUTPUT',
    }),
    'no-header': Flags.boolean({description: 'print the rows without the header line', helpGroup: 'OUTPUT'}),
  }
}

/** -q for list commands: only the first column (the names), one a line. */
export const quietFlag = {
  quiet: Flags.boolean({char: 'q', description: 'print only the names, one a line (no header)', helpGroup: 'OUTPUT'}),
}

/** The choice the flags make, checked against this table's columns (exit 2 naming an unknown one). */
export function tableChoice(flags: {columns?: string; 'no-header'?: boolean; quiet?: boolean}, columns: readonly Column<never>[]): TableChoice {
  let picked: string[] | null = null
  if (flags.columns !== undefined) {
    picked = flags.columns.split(',').map((c) => c.trim()).filter(Boolean)
    const valid = columns.map((c) => c.key)
    if (picked.length === 0) throw new UsageError(`--columns: name at least one column; valid columns: ${valid.join(', ')}`)
    const unknown = picked.find((c) => !valid.includes(c))
    if (unknown) throw new UsageError(`--columns: unknown column '${unknown}'; valid columns: ${valid.join(', ')}`)
    if (flags.quiet) throw new UsageError('-q/--quiet prints only the names: it takes no --columns')
  }
  return {columns: picked, header: !flags['no-header'] && !flags.quiet, quiet: Boolean(flags.quiet)}
}

/** The table as text (no trailing newline); '' for no rows without a header. */
export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[], choice: TableChoice = DEFAULT_CHOICE): string {
  if (choice.quiet) return rows.map((r) => cellText(columns[0].value(r))).join('\n')
  const shown = choice.columns
    ? choice.columns.map((k) => columns.find((c) => c.key === k)!)
    : columns.filter((c) => !c.extra)
  const cells = rows.map((r) => shown.map((c) => c.value(r)))
  if (!choice.header && cells.length === 0) return ''
  return table(choice.header ? shown.map((c) => c.head) : null, cells)
}

function cellText(c: Cell): string {
  return c === null || c === undefined ? '-' : String(c)
}

/**
 * Columns two spaces apart, no borders, cells as text ('-' for unknown), each as wide as its widest cell; no trailing
 * blanks; `head` null: no header line. Linear in the rows (cli-table3's layout took 10 s of CPU for the table of a
 * 5,000-node create).
 */
export function table(head: string[] | null, rows: Cell[][]): string {
  const all = [...(head ? [head] : []), ...rows.map((r) => r.map(cellText))]
  const width = (text: string) => [...text].length
  const widths: number[] = []
  for (const r of all) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, width(c)) })
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - width(c)))).join('  ').trimEnd()).join('\n')
}
