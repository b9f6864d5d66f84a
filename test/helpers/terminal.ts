// What a terminal shows after some output: enough of a VT100 for the progress bar (cursor
// save/restore, column moves, line clears, cursor up/down) to tell whether a line was overwritten.
export function screen(output: string): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const line = () => {
    while (rows.length <= row) rows.push([]);
    return rows[row];
  };
  for (let i = 0; i < output.length; i++) {
    const ch = output[i];
    if (ch === '\x1b') {
      const next = output[i + 1];
      if (next === '7') {
        saved = { row, col };
        i++;
      } else if (next === '8') {
        ({ row, col } = saved);
        i++;
      } else if (next === '[') {
        const m = /^\[([?0-9;]*)([A-Za-z])/.exec(output.slice(i + 1));
        if (!m) continue;
        i += m[0].length;
        const n = Number.parseInt(m[1].replace('?', ''), 10);
        const l = line();
        switch (m[2]) {
          case 'G':
            col = (Number.isNaN(n) ? 1 : n) - 1;
            break;
          case 'K':
            if (Number.isNaN(n) || n === 0) l.length = Math.min(l.length, col);
            else if (n === 2) l.length = 0;
            else for (let k = 0; k < col; k++) l[k] = ' ';
            break;
          case 'A':
            row = Math.max(0, row - (Number.isNaN(n) ? 1 : n));
            break;
          case 'B':
            row += Number.isNaN(n) ? 1 : n;
            break;
          default: // colours, cursor visibility, line wrapping
        }
      }
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row++;
      col = 0;
    } else {
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  return rows.map((r) => r.join('').trimEnd());
}
