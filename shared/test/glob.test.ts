import assert from 'node:assert/strict';
import { test } from 'node:test';
import { globToRegExp, pathMatcher } from '../src/glob.ts';

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
  assert.ok(!m('a.yaml', 'aXyaml'), 'dots are literal');
});

test('a glob also selects everything below it, so a directory name selects the directory', () => {
  const m = pathMatcher(['envs/dev/', './envs/prod/web']);
  assert.ok(m('envs/dev/web/kustomization.yaml'));
  assert.ok(m('envs/prod/web/values.yaml'));
  assert.ok(!m('envs/prod/api/values.yaml'));
  assert.ok(!m('envs/development/x.yaml'));
  assert.ok(pathMatcher([])('anything'));
});
