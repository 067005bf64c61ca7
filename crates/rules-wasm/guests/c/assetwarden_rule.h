/* The Assetwarden rule SDK for C (rule ABI 1): freestanding, no libc.
 *
 * Build:  clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wl,--export-dynamic \
 *               -o rules.wasm rules.c
 *
 * A rule file defines `aw_metadata_json` (the metadata, a JSON string), the number of paths
 * each rule reads (`aw_reads_of`), and `aw_rule` (one verdict per resource), then includes this
 * header's exports with AW_DEFINE_EXPORTS. Each call runs in a fresh instance, so memory comes
 * from a bump allocator and is never freed. */
#ifndef ASSETWARDEN_RULE_H
#define ASSETWARDEN_RULE_H

typedef unsigned long aw_size;
typedef unsigned char aw_u8;

#define AW_MAX_READS 32
#define AW_MAX_PARAMS 16

/* ---- memory ------------------------------------------------------------------------------- */
extern aw_u8 __heap_base;
static aw_size aw_heap_top;

static void *aw_malloc(aw_size n) {
  if (aw_heap_top == 0) aw_heap_top = (aw_size)&__heap_base;
  aw_size start = (aw_heap_top + 7) & ~(aw_size)7;
  aw_size end = start + n;
  aw_size have = __builtin_wasm_memory_size(0) * 65536;
  if (end > have) {
    aw_size pages = (end - have + 65535) / 65536;
    if (__builtin_wasm_memory_grow(0, pages) == (aw_size)-1) __builtin_trap();
  }
  aw_heap_top = end;
  return (void *)start;
}

void *memcpy(void *dst, const void *src, aw_size n) {
  aw_u8 *d = dst; const aw_u8 *s = src;
  while (n--) *d++ = *s++;
  return dst;
}
void *memset(void *dst, int c, aw_size n) {
  aw_u8 *d = dst;
  while (n--) *d++ = (aw_u8)c;
  return dst;
}

/* ---- host log ----------------------------------------------------------------------------- */
__attribute__((import_module("assetwarden"), import_name("log")))
void aw_host_log(const char *ptr, int len);

static aw_size aw_strlen(const char *s) { aw_size n = 0; while (s[n]) n++; return n; }
static void aw_log(const char *msg) { aw_host_log(msg, (int)aw_strlen(msg)); }

/* ---- strings (pointer + length) ----------------------------------------------------------- */
typedef struct { const char *p; int n; } aw_str;

static int aw_str_eq(aw_str a, const char *lit) {
  aw_size n = aw_strlen(lit);
  if ((aw_size)a.n != n) return 0;
  for (aw_size i = 0; i < n; i++) if (a.p[i] != lit[i]) return 0;
  return 1;
}
static char aw_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }
static int aw_str_eq_ci(aw_str a, aw_str b) {
  if (a.n != b.n) return 0;
  for (int i = 0; i < a.n; i++) if (aw_lower(a.p[i]) != aw_lower(b.p[i])) return 0;
  return 1;
}
static int aw_str_contains(aw_str a, const char *lit) {
  int n = (int)aw_strlen(lit);
  for (int i = 0; i + n <= a.n; i++) {
    int k = 0;
    while (k < n && a.p[i + k] == lit[k]) k++;
    if (k == n) return 1;
  }
  return 0;
}
/* The contents of a JSON string literal without decoding escapes (enough for ids and names);
 * an empty string with n = -1 when `raw` is not a string. */
static aw_str aw_json_string(aw_str raw) {
  aw_str s = {0, -1};
  if (raw.n >= 2 && raw.p[0] == '"' && raw.p[raw.n - 1] == '"') { s.p = raw.p + 1; s.n = raw.n - 2; }
  return s;
}
static aw_str aw_trim(aw_str s) {
  while (s.n > 0 && (s.p[0] == ' ')) { s.p++; s.n--; }
  while (s.n > 0 && (s.p[s.n - 1] == ' ')) s.n--;
  return s;
}

/* ---- input -------------------------------------------------------------------------------- */
typedef struct {
  int index;
  aw_str type, arn;
  aw_str values[AW_MAX_READS]; /* raw JSON; n == 0 when absent */
} aw_resource;

typedef struct {
  int rule, count, n_params;
  aw_str param_names[AW_MAX_PARAMS], param_values[AW_MAX_PARAMS];
  const char *cur, *end;
  int n_reads;
} aw_input;

static aw_str aw_line(aw_input *in) {
  aw_str l = {in->cur, 0};
  while (in->cur < in->end && *in->cur != '\n') { in->cur++; l.n++; }
  if (in->cur < in->end) in->cur++;
  return l;
}
static int aw_int(aw_str s, int *at) {
  int v = 0;
  while (*at < s.n && s.p[*at] >= '0' && s.p[*at] <= '9') v = v * 10 + (s.p[(*at)++] - '0');
  if (*at < s.n && s.p[*at] == ' ') (*at)++;
  return v;
}
static aw_str aw_word(aw_str s, int *at) {
  aw_str w = {s.p + *at, 0};
  while (*at < s.n && s.p[*at] != ' ') { (*at)++; w.n++; }
  if (*at < s.n) (*at)++;
  return w;
}
static int aw_reads_of(int rule);

static int aw_input_open(aw_input *in, const char *p, int n) {
  in->cur = p; in->end = p + n; in->n_params = 0;
  aw_str h = aw_line(in);
  if (h.n < 4 || h.p[0] != 'A' || h.p[1] != 'W' || h.p[2] != '1' || h.p[3] != ' ') return 0;
  int at = 4;
  in->rule = aw_int(h, &at);
  in->count = aw_int(h, &at);
  in->n_reads = aw_reads_of(in->rule);
  while (in->cur < in->end && in->cur[0] == 'P' && in->n_params < AW_MAX_PARAMS) {
    aw_str l = aw_line(in);
    int a = 2;
    in->param_names[in->n_params] = aw_word(l, &a);
    in->param_values[in->n_params].p = l.p + a;
    in->param_values[in->n_params].n = l.n - a;
    in->n_params++;
  }
  return 1;
}
static int aw_input_next(aw_input *in, aw_resource *r) {
  if (in->cur >= in->end || in->cur[0] != 'R') return 0;
  aw_str l = aw_line(in);
  int at = 2;
  r->index = aw_int(l, &at);
  r->type = aw_word(l, &at);
  r->arn.p = l.p + at; r->arn.n = l.n - at;
  for (int i = 0; i < in->n_reads && i < AW_MAX_READS; i++) r->values[i] = aw_line(in);
  return 1;
}
static aw_str aw_param(aw_input *in, const char *name) {
  for (int i = 0; i < in->n_params; i++)
    if (aw_str_eq(in->param_names[i], name)) return in->param_values[i];
  aw_str none = {0, 0};
  return none;
}

/* ---- output ------------------------------------------------------------------------------- */
typedef struct { char *buf; int len, cap, count; } aw_out;

static void aw_put(aw_out *o, const char *p, int n) {
  if (o->len + n > o->cap) {
    int cap = (o->cap * 2 > o->len + n) ? o->cap * 2 : o->len + n + 1024;
    char *nb = aw_malloc((aw_size)cap);
    memcpy(nb, o->buf, (aw_size)o->len);
    o->buf = nb; o->cap = cap;
  }
  memcpy(o->buf + o->len, p, (aw_size)n);
  o->len += n;
}
static void aw_puts(aw_out *o, const char *s) { aw_put(o, s, (int)aw_strlen(s)); }
static void aw_put_int(aw_out *o, int v) {
  char d[12]; int n = 0;
  if (v == 0) d[n++] = '0';
  while (v > 0) { d[n++] = (char)('0' + v % 10); v /= 10; }
  while (n) aw_put(o, &d[--n], 1);
}
static void aw_put_json_string(aw_out *o, aw_str s) {
  static const char hex[] = "0123456789abcdef";
  aw_puts(o, "\"");
  for (int i = 0; i < s.n; i++) {
    aw_u8 c = (aw_u8)s.p[i];
    if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; aw_put(o, e, 2); }
    else if (c < 0x20) { char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]}; aw_put(o, e, 6); }
    else aw_put(o, (const char *)&c, 1);
  }
  aw_puts(o, "\"");
}
static aw_str aw_cstr(const char *s) { aw_str r = {s, (int)aw_strlen(s)}; return r; }

/* Starts a result: status is "pass", "fail", "not_applicable" or "error"; reason may be NULL. */
static void aw_result_begin(aw_out *o, int index, const char *status, aw_str reason) {
  aw_puts(o, o->count++ ? ",{\"i\":" : "[{\"i\":");
  aw_put_int(o, index);
  aw_puts(o, ",\"status\":\""); aw_puts(o, status); aw_puts(o, "\"");
  if (reason.n > 0) { aw_puts(o, ",\"reason\":"); aw_put_json_string(o, reason); }
  aw_puts(o, ",\"evidence\":[");
}
/* Adds evidence: a path and the raw JSON value (absent: null). */
static void aw_evidence(aw_out *o, int first, const char *path, aw_str raw) {
  if (!first) aw_puts(o, ",");
  aw_puts(o, "{\"path\":"); aw_put_json_string(o, aw_cstr(path));
  aw_puts(o, ",\"value\":");
  if (raw.n > 0) aw_put(o, raw.p, raw.n); else aw_puts(o, "null");
  aw_puts(o, "}");
}
static void aw_result_end(aw_out *o) { aw_puts(o, "]}"); }

static long long aw_give(const char *p, int n) {
  return ((long long)(aw_size)p << 32) | (long long)(unsigned)n;
}

/* The rule file implements this, and defines `aw_metadata_json` before AW_DEFINE_EXPORTS. */
static void aw_rule(aw_input *in, aw_resource *r, aw_out *o);

#define AW_DEFINE_EXPORTS                                                              \
  __attribute__((export_name("aw_alloc"))) int aw_alloc(int n) {                       \
    return (int)(aw_size)aw_malloc((aw_size)n);                                        \
  }                                                                                    \
  __attribute__((export_name("aw_metadata"))) long long aw_metadata(void) {            \
    return aw_give(aw_metadata_json, (int)aw_strlen(aw_metadata_json));                \
  }                                                                                    \
  __attribute__((export_name("aw_evaluate"))) long long aw_evaluate(int p, int n) {    \
    aw_input in; aw_out o = {0, 0, 0, 0}; aw_resource r;                               \
    if (!aw_input_open(&in, (const char *)(aw_size)p, n)) aw_log("bad input header");  \
    else while (aw_input_next(&in, &r)) aw_rule(&in, &r, &o);                          \
    if (o.count == 0) aw_puts(&o, "[");                                                \
    aw_puts(&o, "]");                                                                  \
    return aw_give(o.buf, o.len);                                                      \
  }

#endif
