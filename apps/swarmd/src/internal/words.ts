/**
 * Splits a line into words the way a shell does, for cli prompt lines: whitespace separates words;
 * 'single quotes' keep everything literally; "double quotes" keep spaces and honour \" and \\;
 * a backslash outside quotes escapes the next character. Throws a SyntaxError naming the problem.
 */
export function splitWords(line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: "'" | '"' | undefined
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (quote === "'") {
      if (ch === "'") quote = undefined
      else word += ch
    } else if (quote === '"') {
      if (ch === '"') quote = undefined
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i]
      else word += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      inWord = true
    } else if (ch === '\\') {
      if (i + 1 >= line.length) throw new SyntaxError('the line ends with a lone backslash')
      word += line[++i]
      inWord = true
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += ch
      inWord = true
    }
  }
  if (quote) throw new SyntaxError(`unterminated ${quote === "'" ? 'single' : 'double'} quote`)
  if (inWord) words.push(word)
  return words
}
