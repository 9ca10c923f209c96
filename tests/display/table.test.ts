import { formatCell, htmlTable, showTable, textTable } from '../../kernel-lib/display/table';
import { escapeHtml } from '../../kernel-lib/display/html';
import { TextTarget } from '../../kernel-lib/display/env';
import { RecordingTarget } from './sink';

test('every header, value and caption is escaped', () => {
  const html = htmlTable([{ '<th>': '<script>alert("x")</script>', "it's": 'a & b' }], { caption: '<b>caption</b>' });
  expect(html).not.toContain('<script>');
  expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  expect(html).toContain('<th style="text-align:left">&lt;th&gt;</th>');
  expect(html).toContain('it&#39;s');
  expect(html).toContain('a &amp; b');
  expect(html).toContain('&lt;b&gt;caption&lt;/b&gt;');
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('records, rows with column names, and one object as key/value rows', () => {
  const recs = htmlTable([{ a: 1, b: 'x' }, { b: 'y', c: true }]);
  expect(recs.match(/<th[^>]*>([^<]*)<\/th>/g)?.map((h) => h.replace(/<[^>]+>/g, ''))).toEqual(['a', 'b', 'c']);
  expect(recs).toContain('<td style="text-align:right"></td>'); // a missing value in a numeric column
  expect(textTable([[1, 'x'], [22, 'yy']], { columns: ['n', 's'] })).toBe([' n  s', '--  --', ' 1  x', '22  yy'].join('\n')); // numeric columns right-aligned, header too
  expect(textTable({ layers: 2, name: 'tiny' })).toBe(['key     value', '------  -----', 'layers  2', 'name    tiny'].join('\n'));
});

test('numbers: integers as they are, others to 4 significant digits; objects as JSON', () => {
  expect(formatCell(12345)).toBe('12345');
  expect(formatCell(3.14159265)).toBe('3.142');
  expect(formatCell(0.000123456)).toBe('0.0001235');
  expect(formatCell(NaN)).toBe('NaN');
  expect(formatCell({ a: [1] })).toBe('{"a":[1]}');
  expect(formatCell(null)).toBe('');
});

test('maxRows keeps the first rows and says how many more there are', () => {
  const rows = Array.from({ length: 10 }, (_, i) => ({ i }));
  expect(htmlTable(rows, { maxRows: 3 })).toContain('… 7 more rows');
  expect(textTable(rows, { maxRows: 3 }).split('\n')).toHaveLength(2 + 3 + 1);
});

test('showTable: html for a notebook, the text table elsewhere', () => {
  const sink = new RecordingTarget();
  showTable([{ a: 1 }], { display: sink });
  expect(sink.shown[0].html).toContain('<table');
  const lines: string[] = [];
  showTable([{ a: 1 }], { display: new TextTarget((s) => lines.push(s)) });
  expect(lines).toEqual(['a\n-\n1\n']);
});
