import assert from 'node:assert/strict';
import { test } from 'node:test';
import { globBase, globMatcher, globToRegExp, isExclusion, pathMatcher, pathScope } from '../src/glob.ts';

test('** spans directories, * and ? stay within one, [..] is a class', () => {
  const m = (g: string, p: string) => globToRegExp(g).test(p);
  assert.ok(m('envs/**/*.yaml', 'envs/dev/web/deploy.yaml'));
  assert.ok(m('envs/**/*.yaml', 'envs/deploy.yaml'));
  assert.ok(!m('envs/*.yaml', 'envs/dev/deploy.yaml'));
  assert.ok(m('envs/*/web/values.y?ml', 'envs/dev/web/values.yaml'));
  assert.ok(!m('envs/?/x', 'envs/ab/x'));
  assert.ok(m('**', 'a/b/c'));
  assert.ok(m('env[sz]/a', 'envz/a'));
  assert.ok(!m('env[!sz]/a', 'envs/a'));
  assert.ok(m('env[!sz]/a', 'envx/a'));
  assert.ok(!m('a.yaml', 'aXyaml'), 'dots are literal');
});

test('picomatch semantics: braces are alternatives, dot files match, POSIX classes, extglobs', () => {
  const m = (g: string, p: string) => globToRegExp(g).test(p);
  // `{` used to be a literal character in paths and a wildcard in change keys; now it is picomatch's brace.
  assert.ok(m('envs/{dev,staging}/**', 'envs/staging/web/a.yaml'));
  assert.ok(!m('envs/{dev,staging}/**', 'envs/prod/web/a.yaml'));
  assert.ok(!m('envs/{dev,staging}/**', 'envs/{dev,staging}/a.yaml'));
  assert.ok(m('envs/app{1..3}/x', 'envs/app2/x'));
  assert.ok(m('**/*.yaml', '.github/tether.yaml'), 'dot: true');
  assert.ok(m('x[[:digit:]]', 'x7'));
  assert.ok(m('envs/@(dev|qa)/x', 'envs/qa/x'));
  assert.ok(m('envs/!(prod)/x', 'envs/dev/x'));
  assert.ok(!m('envs/!(prod)/x', 'envs/prod/x'));
});

test('a glob also selects everything below it, so a directory name selects the directory', () => {
  const m = pathMatcher(['envs/dev/', './envs/prod/web']);
  assert.ok(m('envs/dev/web/kustomization.yaml'));
  assert.ok(m('envs/prod/web/values.yaml'));
  assert.ok(!m('envs/prod/api/values.yaml'));
  assert.ok(!m('envs/development/x.yaml'));
  assert.ok(pathMatcher([])('anything'));
});

test('in a list, a leading ! excludes; alone it keeps everything else', () => {
  const m = pathMatcher(['envs/**', '!envs/prod']);
  assert.ok(m('envs/dev/a.yaml'));
  assert.ok(!m('envs/prod/a.yaml'));
  assert.ok(!m('other/a.yaml'));
  const only = pathMatcher(['!envs/prod/**']);
  assert.ok(only('envs/dev/a.yaml'));
  assert.ok(!only('envs/prod/web/a.yaml'));
  assert.ok(isExclusion('!envs/prod'));
  assert.ok(!isExclusion('!(prod)/x'), 'an extglob is not an exclusion');
});

test('contexts match whole: * stays in a segment, ** spans them, nothing below', () => {
  const m = globMatcher(['tether/staging/*']);
  assert.ok(m('tether/staging/web'));
  assert.ok(!m('tether/staging/web/plan'));
  assert.ok(globMatcher(['tether/**'])('tether/a/b'));
  assert.ok(globMatcher(['tether/{dev,qa}/*', '!tether/qa/flaky'])('tether/qa/web'));
  assert.ok(!globMatcher(['tether/{dev,qa}/*', '!tether/qa/flaky'])('tether/qa/flaky'));
  assert.ok(!globMatcher([])('tether/dev/web'));
});

test('the base of a glob is the directory all its matches lie in', () => {
  assert.equal(globBase('envs/dev/**'), 'envs/dev');
  assert.equal(globBase('envs/*/web/*.yaml'), 'envs');
  assert.equal(globBase('envs/dev/values.yaml'), 'envs/dev');
  assert.equal(globBase('envs/{dev,staging}/**'), 'envs');
  assert.equal(globBase('./envs/dev/'), 'envs/dev');
  assert.equal(globBase('**/*.yaml'), '');
  assert.deepEqual(pathScope(['a/**']).globs, ['a/**']);
  assert.ok(pathScope(['a/**']).matches('a/b'));
});
