// ui/columns.ts: the one table helper — default columns, --columns order and extras, --no-header, -q, refusals.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {type Column, DEFAULT_CHOICE, renderTable, tableChoice} from '../../../src/ui/columns.js'
import {UsageError} from '../../../src/core/errors.js'

interface Row {name: string; ip: string | null; size: number}
const COLUMNS: Column<Row>[] = [
  {key: 'name', head: 'NAME', value: (r) => r.name},
  {key: 'ip', head: 'IP', value: (r) => r.ip},
  {key: 'size', head: 'SIZE', value: (r) => r.size, extra: true},
]
const ROWS: Row[] = [{name: 'w1', ip: '10.0.0.1', size: 1}, {name: 'w10', ip: null, size: 2}]

test('default columns leave out extras; unknown values show as -', () => {
  assert.equal(renderTable(COLUMNS, ROWS), 'NAME  IP\nw1    10.0.0.1\nw10   -')
})

test('--columns picks extras and order; --no-header drops the header; -q prints the first column', () => {
  assert.equal(renderTable(COLUMNS, ROWS, tableChoice({columns: 'size,name'}, COLUMNS)), 'SIZE  NAME\n1     w1\n2     w10')
  assert.equal(renderTable(COLUMNS, ROWS, tableChoice({'no-header': true}, COLUMNS)), 'w1   10.0.0.1\nw10  -')
  assert.equal(renderTable(COLUMNS, ROWS, tableChoice({quiet: true}, COLUMNS)), 'w1\nw10')
  assert.equal(renderTable(COLUMNS, [], tableChoice({'no-header': true}, COLUMNS)), '')
  assert.equal(renderTable(COLUMNS, [], DEFAULT_CHOICE), 'NAME  IP')
})

test('an unknown or empty --columns, and -q with --columns, are usage errors naming the valid columns', () => {
  assert.throws(() => tableChoice({columns: 'name,ipv4'}, COLUMNS), (e: Error) =>
    e instanceof UsageError && e.message === "--columns: unknown column 'ipv4'; valid columns: name, ip, size")
  assert.throws(() => tableChoice({columns: ' , '}, COLUMNS), /name at least one column; valid columns: name, ip, size/)
  assert.throws(() => tableChoice({columns: 'name', quiet: true}, COLUMNS), /takes no --columns/)
})
