/** The test renderer against known Go text/template + Sprig + Helm behaviour (expected outputs are Helm's). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TemplateSet } from './go-template.js';

function render(src: string, values: unknown = {}, defines = ''): string {
  const t = new TemplateSet();
  if (defines) t.add('_helpers.tpl', defines);
  t.add('t.yaml', src);
  return t.render('t.yaml', { Values: values, Release: { Name: 'rel', Namespace: 'ns' } });
}

describe('test renderer (Go text/template subset)', () => {
  it('trim markers eat all whitespace on their side, including newlines', () => {
    assert.equal(render('a  \n  {{- "x" -}}  \n  b'), 'axb');
    assert.equal(render('a {{ "x" }} b'), 'a x b');
  });

  it('if / else if / else, with Go truthiness (0, "", false, nil, empty list/map are false)', () => {
    const src = '{{ if .Values.a }}A{{ else if .Values.b }}B{{ else }}C{{ end }}';
    assert.equal(render(src, { a: 1 }), 'A');
    for (const falsy of [0, '', false, null, [], {}]) assert.equal(render(src, { a: falsy, b: 'x' }), 'B');
    assert.equal(render(src, {}), 'C');
  });

  it('missing keys print as empty (Helm strips "<no value>"); a field of nil is an error', () => {
    assert.equal(render('[{{ .Values.missing }}]'), '[]');
    assert.throws(() => render('{{ .Values.missing.field }}'), /nil pointer evaluating interface \{\}\.field/);
  });

  it('numbers from values are float64: %v gives 1e+06 for 1000000 (Helm behaviour); small ones print plainly', () => {
    assert.equal(render('{{ .Values.n }} {{ .Values.m }} {{ .Values.f }}', { n: 1000000, m: 120, f: 0.5 }), '1e+06 120 0.5');
    assert.equal(render('{{ .Values.m | quote }}', { m: -1 }), '"-1"');
  });

  it('range over lists in order and maps in sorted key order, with $i, $v and else', () => {
    assert.equal(render('{{ range $i, $v := .Values.l }}{{ $i }}={{ $v }};{{ end }}', { l: ['a', 'b'] }), '0=a;1=b;');
    assert.equal(render('{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}', { m: { b: '2', a: '1' } }), 'a=1;b=2;');
    assert.equal(render('{{ range .Values.l }}x{{ else }}empty{{ end }}', { l: [] }), 'empty');
  });

  it('with rebinds dot; $ is the root inside it', () => {
    assert.equal(render('{{ with .Values.a }}{{ .b }}/{{ $.Release.Name }}{{ end }}', { a: { b: 'B' } }), 'B/rel');
    assert.equal(render('{{ with .Values.a }}x{{ else }}none{{ end }}', { a: {} }), 'none');
  });

  it('and / or return one of their arguments and short-circuit', () => {
    assert.equal(render('{{ and .Values.a .Values.b }}|{{ or .Values.c .Values.b }}', { a: 'A', b: 'B', c: '' }), 'B|B');
    assert.equal(render('{{ if or true (required "not evaluated" .Values.x) }}ok{{ end }}'), 'ok');
  });

  it('Sprig: default treats false as empty (the famous trap), quote, trunc, trimSuffix, printf, nindent, toYaml', () => {
    assert.equal(render('{{ .Values.b | default true }}', { b: false }), 'true');
    assert.equal(render('{{ "a\\"b" | quote }}'), '"a\\"b"');
    assert.equal(render('{{ "abcdef-" | trunc 6 | trimSuffix "-" }}'), 'abcdef');
    assert.equal(render('{{ printf "%s-%s" "a" .Release.Name }}'), 'a-rel');
    assert.equal(render('x:{{ "a: 1\\nb: 2" | nindent 2 }}'), 'x:\n  a: 1\n  b: 2');
    assert.equal(render('{{ toYaml .Values.m }}', { m: { b: [1, 'x'], a: 'true' } }), 'a: "true"\nb:\n  - 1\n  - x');
    assert.equal(render('{{ toYaml .Values.m }}', { m: {} }), '{}');
  });

  it('define / include / template, and variables', () => {
    const defs = '{{- define "n" -}}{{ .Release.Name }}-x{{- end -}}';
    assert.equal(render('{{ include "n" . | quote }}', {}, defs), '"rel-x"');
    assert.equal(render('{{ template "n" . }}', {}, defs), 'rel-x');
    assert.equal(render('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}'), 'b');
  });

  it('required and fail stop the render with their message', () => {
    assert.throws(() => render('{{ required "need x" .Values.x }}'), /need x/);
    assert.throws(() => render('{{ required "need x" .Values.x }}', { x: '' }), /need x/);
    assert.equal(render('{{ required "need x" .Values.x }}', { x: false }), 'false');
    assert.throws(() => render('{{ fail "boom" }}'), /boom/);
  });

  it('refuses what it does not implement instead of guessing', () => {
    assert.throws(() => render('{{ sha256sum "x" }}'), /not supported by the test renderer/);
    assert.throws(() => render('{{ eq .Values.n 1 }}', { n: 1 }), /numeric comparisons/);
  });
});
