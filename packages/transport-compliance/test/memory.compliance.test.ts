import compliance from '../src/index.ts'

let n = 0
const noRawLink =
  'in-memory sessions have no byte link: objects pass by reference, nothing is framed or encoded'

compliance({
  name: 'memory',
  transport: () => undefined,
  url: () => `memory://compliance-${process.pid}-${n++}`,
  skip: [
    {
      reason: noRawLink,
      tests: [
        'bad-bytes > garbage after the handshake',
        'bad-bytes > a lying length (larger than any frame may be)',
        'bad-bytes > an unknown frame type',
        'bad-bytes > a truncated frame, then the end',
        'bad-bytes > DATA on a stream that does not exist',
        'bad-bytes > a reference to a stream that does not exist',
        'bad-bytes > frames after END',
        'bad-bytes > a malformed CREDIT frame',
        'limits > handshakeTimeout ends a connection that never says hello',
        'limits > a peer that hung up before the session started is reported at once',
        'limits > idleTimeout ends a session whose peer went silent',
        'kill > a peer killed mid-stream: pending calls reject within a second',
      ],
    },
    {
      reason:
        'memory:// has no transport and so no authenticate hook: only code in the same process can reach it',
      tests: [
        'auth > authenticate sees the peer, and the accepted session carries that same peer',
        'auth > a refused peer: the dialler gets a clear error, the listener reports it and carries on',
        'auth > an authenticate check that throws refuses the peer',
      ],
    },
    {
      reason: 'in-memory sessions encode nothing, so there is no message size or stream count to limit',
      tests: [
        'limits > a message over maxMessageSize fails that send; the session carries on',
        'limits > channels over maxStreams are refused with LimitExceededError',
      ],
    },
  ],
})
