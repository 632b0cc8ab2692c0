/**
 * The columns an anonymising script sets (what the check after it looks at), and the names of a
 * data operation's staged and kept database copies.
 */
import { anonymizedColumns } from '../../src/pipelines/anonymize.js'
import { databaseSwapNames } from '../../src/pipelines/data-swap.js'

describe('anonymizedColumns', () => {
  test('every column of every UPDATE ... SET, up to WHERE, comments and quotes respected', () => {
    const sql = `
      -- UPDATE ignored SET x = 1;
      UPDATE users SET email = 'user' || id || '@example.invalid', name = 'Jane, Doe' WHERE id > 0;
      /* UPDATE nope SET y = 2; */
      update public."Orders" o set "Address" = md5(o."Address"), note = NULL;
      DELETE FROM sessions;
      UPDATE accounts SET iban = lpad('', 22, 'X') FROM users WHERE users.id = accounts.uid;
    `
    expect(anonymizedColumns(sql)).toEqual([
      { table: 'users', column: 'email', rule: 'UPDATE users SET email' },
      { table: 'users', column: 'name', literal: "'Jane, Doe'", rule: 'UPDATE users SET name' },
      {
        table: 'public."Orders"',
        column: '"Address"',
        rule: 'UPDATE public."Orders" SET "Address"'
      },
      { table: 'public."Orders"', column: 'note', rule: 'UPDATE public."Orders" SET note' },
      { table: 'accounts', column: 'iban', rule: 'UPDATE accounts SET iban' }
    ])
  })

  test('a script without UPDATE has nothing to check', () => {
    expect(anonymizedColumns('DELETE FROM sessions; TRUNCATE logs;')).toEqual([])
  })
})

describe('databaseSwapNames', () => {
  test('sqlite: hidden files beside the database', () => {
    expect(
      databaseSwapNames(
        { engine: 'sqlite', name: '/srv/a/shared/app.db' },
        4096,
        '20240101T000000-ab12cd'
      )
    ).toEqual({
      scratch: '/srv/a/shared/.app.db.sc-new-20240101t000000ab12cd',
      keep: '/srv/a/shared/.app.db.sc-keep-20240101t000000ab12cd'
    })
  })

  test('postgres: names cut to the engine limit, the operation id kept whole', () => {
    const names = databaseSwapNames(
      { engine: 'postgres', name: 'x'.repeat(80) },
      63,
      '20240101T000000-ab12cd'
    )
    expect(Buffer.byteLength(names.scratch)).toBeLessThanOrEqual(63)
    expect(names.scratch.endsWith('__sc_new_20240101t000000ab12cd')).toBe(true)
    expect(names.keep.endsWith('__sc_keep_20240101t000000ab12cd')).toBe(true)
  })
})
