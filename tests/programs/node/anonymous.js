'use strict';
// An anonymous arrow function called by a builtin (Array.prototype.forEach).
const rows = [{ id: 1 }, { id: 2, parent: { id: 1 } }, { id: 3 }];

function link(all) {
  all.forEach((row) => {
    if (row.id === 3) {
      row.parent.children.push(row);
    }
  });
}

link(rows);
