import { describe, expect, it } from 'vitest'
import { diff } from '../src/internal/source.ts'
import { decodeResponse, encodeQuery, parseServer, sortRecords } from '../src/internal/srv.ts'

describe('parseServer', () => {
  it.each([
    ['127.0.0.1', { host: '127.0.0.1', port: 53 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['dns://10.0.0.1:54/', { host: '10.0.0.1', port: 54 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['::1', { host: '::1', port: 53 }],
  ])('parses %s', (spec, expected) => {
    expect(parseServer(spec)).toEqual(expected)
  })

  it.each(['example.com', '127.0.0.1:0', '127.0.0.1:99999', ''])('rejects %j with a clear error', (spec) => {
    expect(() => parseServer(spec)).toThrow(/\[adapter-dns\] bad DNS server/)
  })
})

describe('wire format', () => {
  it('decodes an answer with compressed names', () => {
    const query = encodeQuery(0x4242, '_web._tcp.test')
    // Answer: header (id, QR|RD|RA, 1 question, 1 answer), the question, one SRV record whose owner
    // is a pointer to the question name (offset 12) and whose target is "host1" + pointer to "test".
    const header = Buffer.from([0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0])
    const question = query.subarray(12)
    const testOffset = 12 + 1 + 4 + 1 + 4 // "_web" label, "_tcp" label, then "test"
    const target = Buffer.from([5, ...Buffer.from('host1'), 0xc0, testOffset])
    const rdata = Buffer.concat([Buffer.from([0, 1, 0, 7, 0x1f, 0x90]), target])
    const record = Buffer.concat([Buffer.from([0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 30, 0, rdata.length]), rdata])
    const answer = decodeResponse(Buffer.concat([header, question, record]))
    expect(answer).toEqual({
      id: 0x4242,
      rcode: 0,
      truncated: false,
      records: [{ priority: 1, weight: 7, port: 8080, target: 'host1.test', ttl: 30 }],
    })
  })

  it('rejects a pointer loop and a truncated record instead of hanging or crashing', () => {
    const loop = Buffer.from([0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12])
    expect(() => decodeResponse(loop)).toThrow(/malformed DNS response/)
    expect(() => decodeResponse(Buffer.from([0, 1, 0x81]))).toThrow(/shorter than its header/)
  })

  it('turns any garbage into an Error that says the response is malformed (no hang, no other throw)', () => {
    const query = encodeQuery(7, '_web._tcp.test')
    let seed = 42
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed
    }
    let rejected = 0
    for (let i = 0; i < 500; i++) {
      // A real query with a few bytes overwritten, cut short or extended: what a broken peer sends.
      const bytes = Buffer.concat([query, Buffer.alloc(random() % 40)])
      for (let n = 0; n < 1 + (random() % 6); n++) bytes[random() % bytes.length] = random() & 0xff
      bytes.writeUInt16BE(random() % 4, 6) // ancount
      try {
        decodeResponse(bytes.subarray(0, 12 + (random() % (bytes.length - 11))))
      } catch (error) {
        expect(error).toBeInstanceOf(Error)
        expect((error as Error).message).toMatch(
          /^(malformed DNS response|DNS response shorter than its header)/,
        )
        rejected++
      }
    }
    expect(rejected).toBeGreaterThan(0)
  })

  it('rejects an over-long label', () => {
    expect(() => encodeQuery(1, `${'a'.repeat(64)}.test`)).toThrow(/1 to 63 bytes/)
  })
})

describe('order and diff', () => {
  const a = { target: 'a', port: 1, priority: 10, weight: 5 }
  const b = { target: 'b', port: 1, priority: 0, weight: 1 }
  const c = { target: 'c', port: 1, priority: 0, weight: 9 }

  it('sorts by priority, then by weight (heaviest first)', () => {
    expect(sortRecords([a, b, c]).map((r) => r.target)).toEqual(['c', 'b', 'a'])
  })

  it('reports created, changed and deleted targets', () => {
    const before = { name: 'x', records: [a, b], ttl: 1, time: 't0' }
    const after = { name: 'x', records: [{ ...a, weight: 6 }, c], ttl: 1, time: 't1' }
    expect(diff(before, after).map((e) => [e.type, e.name])).toEqual([
      ['change', 'a:1'],
      ['create', 'c:1'],
      ['delete', 'b:1'],
    ])
  })
})
