// CPython 3.11 urllib.parse behaviours the model depends on, each checked
// against the value CPython gives (as written in the comment or test name).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQsl, parseQslDict, PyUrlError, quote, quotePlus, unquote, unquotePlus, urlencode, urlsplit } from '../../../src/airflow/python-url.ts';

test('quote(safe="") leaves only A-Za-z0-9_.-~ and writes uppercase UTF-8 escapes', () => {
  assert.equal(quote("!'()*~_.-", ''), "%21%27%28%29%2A~_.-");
  assert.equal(quote('a b/é😀', ''), 'a%20b%2F%C3%A9%F0%9F%98%80');
  assert.equal(quote('a/b'), 'a/b'); // default safe='/'
  assert.equal(quote('', ''), '');
});

test('quote raises for an unpaired surrogate, as str.encode("utf-8") does', () => {
  assert.throws(() => quote('\ud800', ''), (e: unknown) => e instanceof PyUrlError && e.code === 'unencodable');
});

test('quote_plus writes a space as + and escapes + itself', () => {
  assert.equal(quotePlus('a b+c'), 'a+b%2Bc');
  assert.equal(quotePlus('~*'), '~%2A');
});

test('unquote never throws: malformed escapes stay, bad UTF-8 becomes U+FFFD', () => {
  assert.equal(unquote('%zz%2'), '%zz%2');
  assert.equal(unquote('%FF'), '\ufffd');
  assert.equal(unquote('%E2%82'), '\ufffd');
  assert.equal(unquote('%ED%A0%80'), '\ufffd\ufffd\ufffd');
  assert.equal(unquote('%C3%A9+'), 'é+');
  // Only ASCII runs are decoded, each on its own: 'é' splits %C3 from %A9.
  assert.equal(unquote('%C3é%A9'), '\ufffdé\ufffd');
  assert.equal(unquote('%EF%BB%BFx'), '\ufeffx');
});

test('unquote_plus turns + into a space before decoding', () => {
  assert.equal(unquotePlus('a+b%2B'), 'a b+');
});

test('parse_qsl splits on & only, skips empty fields, keeps blank values when asked', () => {
  assert.deepEqual(parseQsl('a=1;b=2&&c&d=', true), [['a', '1;b=2'], ['c', ''], ['d', '']]);
  assert.deepEqual(parseQsl('c&d=', false), []);
  assert.deepEqual(parseQsl('a=x=y', true), [['a', 'x=y']]);
});

test('dict(parse_qsl(...)): the last duplicate wins, in the first position', () => {
  assert.deepEqual([...parseQslDict('a=1&b=2&a=3', true)], [['a', '3'], ['b', '2']]);
});

test('urlencode uses quote_plus for keys and values', () => {
  assert.equal(urlencode({ 'k y': 'v~*', a: '' }), 'k+y=v~%2A&a=');
});

test('urlsplit: scheme rules', () => {
  assert.equal(urlsplit('My-Type+1.x://h').scheme, 'my-type+1.x');
  assert.equal(urlsplit('my_type://h').scheme, '');
  assert.equal(urlsplit('1abc://h').scheme, '');
  assert.equal(urlsplit('  \x01http://h').scheme, 'http'); // C0 and space stripped on the left
  assert.equal(urlsplit('ht\ttp://h').scheme, 'http'); // tab, CR, LF removed anywhere
});

test('urlsplit: netloc, path, query, fragment and userinfo', () => {
  const p = urlsplit('s://us:er:pw@x@Host:12/p/a?q=1?#f#g');
  assert.deepEqual([p.netloc, p.path, p.query, p.fragment], ['us:er:pw@x@Host:12', '/p/a', 'q=1?', 'f#g']);
  assert.equal(p.username, 'us'); // userinfo is before the LAST '@', split at the FIRST ':'
  assert.equal(p.password, 'er:pw@x');
  assert.equal(p.hostname, 'host');
  assert.equal(p.port, 12);
  const noInfo = urlsplit('s://h');
  assert.equal(noInfo.username, null);
  assert.equal(noInfo.password, null);
  const emptyPw = urlsplit('s://u:@h');
  assert.equal(emptyPw.password, '');
});

test('urlsplit: hostname is lower-cased except an IPv6 zone, and brackets are stripped', () => {
  assert.equal(urlsplit('s://[FE80::A%Eth0]:5').hostname, 'fe80::a%Eth0');
  assert.equal(urlsplit('s://[::1]').port, null);
  assert.equal(urlsplit('s://:5').hostname, null);
});

test('urlsplit: port is validated only when read', () => {
  const p = urlsplit('s://h:abc');
  assert.throws(() => p.port, (e: unknown) => e instanceof PyUrlError && e.code === 'invalid_port');
  assert.throws(() => urlsplit('s://h:65536').port, /out of range/);
  assert.throws(() => urlsplit('s://h:١').port, PyUrlError); // not ASCII
  assert.equal(urlsplit('s://h:').port, null);
  assert.equal(urlsplit('s://h:0065535').port, 65535);
});

test('urlsplit: bracketed hosts must be valid IPv6 or IPvFuture', () => {
  for (const bad of ['s://[::1', 's://::1]', 's://[1.2.3.4]', 's://[zz]', 's://[v1]', 's://[1::2::3]', 's://[::1.2.3.04]', 's://[fe80::1%]']) {
    assert.throws(() => urlsplit(bad), (e: unknown) => e instanceof PyUrlError && e.code === 'invalid_ipv6', bad);
  }
  for (const good of ['s://[::1]', 's://[v1.x]', 's://[::ffff:1.2.3.4]', 's://[1:2:3:4:5:6:7:8]', 's://[fe80::1%eth0]']) {
    assert.doesNotThrow(() => urlsplit(good), good);
  }
});

test('urlsplit: a netloc that NFKC-normalizes into a delimiter is rejected', () => {
  assert.throws(() => urlsplit('s://\u2100x'), (e: unknown) => e instanceof PyUrlError && e.code === 'invalid_netloc');
  assert.doesNotThrow(() => urlsplit('s://é'));
});

test('errors never contain the URL', () => {
  const secret = 'hunter2';
  for (const uri of [`s://u:${secret}@h:${secret}`, `s://[${secret}]`]) {
    try {
      const p = urlsplit(uri);
      void p.port;
      assert.fail('should throw');
    } catch (e) {
      assert.ok(!(e as Error).message.includes(secret));
    }
  }
});
