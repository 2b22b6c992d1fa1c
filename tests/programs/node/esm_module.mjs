// An ES module: its script name is a file: URL.
export function decode(text) {
  return JSON.parse(text).payload.length;
}

decode('{"payload": null}');
