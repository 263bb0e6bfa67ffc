/* Ruby objects from and to JSON on the token's hot paths, so that a decode
 * makes the payload Hash straight from the core's parser and an encode
 * writes mail_room's payload without JSON.generate.
 *
 * Both sides hold only C-stack memory and the Ruby objects they make (the
 * machine stack is scanned by the GC), so a raise (NoMemoryError) leaks
 * nothing. Neither calls back into Ruby code. */
#include <string.h>
#include "mj_ruby.h"
#include <ruby/util.h>

/* ---- JSON to Ruby: the objects JSON.parse makes ---- */

typedef struct {
    VALUE containers[MJ_JSON_MAX_DEPTH];
    VALUE names[MJ_JSON_MAX_DEPTH];   /* the pending member name per object */
    char is_object[MJ_JSON_MAX_DEPTH];
    int depth;
    VALUE result;
    int duplicate;
} mj_builder;

static VALUE mj_rb_string(const unsigned char *raw, size_t len, int escaped)
{
    VALUE str;
    if (!escaped)
        return rb_utf8_str_new((const char *)raw, (long)len);
    str = rb_utf8_str_new(NULL, (long)len);
    rb_str_set_len(str, (long)mj_json_unescape(raw, len, (unsigned char *)RSTRING_PTR(str)));
    return str;
}

/* The names JWS headers and mail_room's payloads use, interned once: the
 * table is filled at load and never changes (shareable between Ractors). */
static const char *const mj_names[] = {
    "alg", "typ", "kid", "cty", "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "nonce", "body_sha256"
};
#define MJ_NAME_COUNT (sizeof(mj_names) / sizeof(mj_names[0]))
static VALUE mj_name_values[MJ_NAME_COUNT];
static size_t mj_name_lens[MJ_NAME_COUNT];

void mj_rb_json_init(void)
{
    size_t i;
    for (i = 0; i < MJ_NAME_COUNT; i++) {
        mj_name_lens[i] = strlen(mj_names[i]);
        mj_name_values[i] = rb_enc_interned_str(mj_names[i], (long)mj_name_lens[i], rb_utf8_encoding());
        rb_gc_register_mark_object(mj_name_values[i]);
    }
}

/* Member names are frozen and deduplicated, as Hash#[]= and JSON.parse
 * leave them; an unescaped name already interned allocates nothing. */
static VALUE mj_rb_name(const unsigned char *raw, size_t len, int escaped)
{
    size_t i;
    if (escaped)
        return rb_str_freeze(mj_rb_string(raw, len, escaped));
    for (i = 0; i < MJ_NAME_COUNT; i++) {
        if (mj_name_lens[i] == len && memcmp(mj_names[i], raw, len) == 0)
            return mj_name_values[i];
    }
    return rb_enc_interned_str((const char *)raw, (long)len, rb_utf8_encoding());
}

static VALUE mj_rb_integer(const unsigned char *raw, size_t len)
{
    size_t i = raw[0] == '-' ? 1 : 0;
    VALUE tmp;

    if (len - i <= 18) {
        long long v = 0;
        size_t k;
        for (k = i; k < len; k++)
            v = v * 10 + (raw[k] - '0');
        return LL2NUM(i ? -v : v);
    }
    tmp = rb_str_new((const char *)raw, (long)len);
    {
        VALUE v = rb_str_to_inum(tmp, 10, 1);
        RB_GC_GUARD(tmp);
        return v;
    }
}

/* Gay's correctly rounded strtod, as Ruby's Float() and json's parser use;
 * independent of the C locale. */
static VALUE mj_rb_float(const unsigned char *raw, size_t len)
{
    char small[64];
    double d;

    if (len < sizeof(small)) {
        memcpy(small, raw, len);
        small[len] = '\0';
        d = ruby_strtod(small, NULL);
    } else {
        VALUE tmp = rb_str_new((const char *)raw, (long)len); /* NUL-terminated */
        d = ruby_strtod(RSTRING_PTR(tmp), NULL);
        RB_GC_GUARD(tmp);
    }
    return DBL2NUM(d);
}

static int mj_build(void *ctx, int event, const unsigned char *raw, size_t len, int escaped)
{
    mj_builder *b = ctx;
    VALUE value;

    switch (event) {
    case MJ_JSON_OBJECT: value = rb_hash_new(); break;
    case MJ_JSON_ARRAY: value = rb_ary_new(); break;
    case MJ_JSON_END:
        b->depth--;
        return MJ_OK;
    case MJ_JSON_KEY:
        b->names[b->depth - 1] = mj_rb_name(raw, len, escaped);
        return MJ_OK;
    case MJ_JSON_STRING: value = mj_rb_string(raw, len, escaped); break;
    case MJ_JSON_INTEGER: value = mj_rb_integer(raw, len); break;
    case MJ_JSON_FLOAT: value = mj_rb_float(raw, len); break;
    case MJ_JSON_TRUE: value = Qtrue; break;
    case MJ_JSON_FALSE: value = Qfalse; break;
    default: value = Qnil; break;
    }
    if (b->depth == 0) {
        b->result = value;
    } else if (b->is_object[b->depth - 1]) {
        VALUE object = b->containers[b->depth - 1];
        size_t before = RHASH_SIZE(object);
        rb_hash_aset(object, b->names[b->depth - 1], value);
        if (RHASH_SIZE(object) == before)
            b->duplicate = 1;
    } else {
        rb_ary_push(b->containers[b->depth - 1], value);
    }
    if (event == MJ_JSON_OBJECT || event == MJ_JSON_ARRAY) {
        /* mj_json_parse never opens more than MJ_JSON_MAX_DEPTH containers */
        b->containers[b->depth] = value;
        b->is_object[b->depth] = event == MJ_JSON_OBJECT;
        b->depth++;
    }
    return MJ_OK;
}

VALUE mj_rb_json_object(const unsigned char *json, size_t len, int *status, int *duplicate)
{
    mj_builder b;
    size_t members = 0;

    memset(&b, 0, sizeof(b));
    b.result = Qnil;
    *status = mj_json_parse(json, len, mj_build, &b, &members);
    *duplicate = b.duplicate;
    if (*status != MJ_OK)
        return Qnil;
    return b.result;
}

/* ---- Ruby to JSON: what JSON.generate writes, for plain data ---- */

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int depth;
    int ok;
} mj_gen;

typedef struct {
    mj_gen *g;
    int first;
    int key_type;
    int top;
} mj_pairs;

static void mj_gen_value(mj_gen *g, VALUE v);

static void mj_put(mj_gen *g, const char *s, size_t n)
{
    if (!g->ok || n > g->cap - g->len) {
        g->ok = 0;
        return;
    }
    memcpy(g->buf + g->len, s, n);
    g->len += n;
}

/* json's basic escapes: '"', '\\' and control characters (\b \f \n \r \t
 * or \u00xx in lowercase hex); everything else, '/' and non-ASCII UTF-8
 * included, is copied. */
static void mj_gen_string(mj_gen *g, VALUE str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s, *run;
    size_t n, i;
    int enc = rb_enc_get_index(str);

    if ((enc != rb_utf8_encindex() && enc != rb_usascii_encindex()) ||
        rb_enc_str_coderange(str) == ENC_CODERANGE_BROKEN) {
        g->ok = 0; /* json converts or refuses these: the general path decides */
        return;
    }
    s = (const unsigned char *)RSTRING_PTR(str);
    n = (size_t)RSTRING_LEN(str);
    mj_put(g, "\"", 1);
    run = s;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        char esc[6];
        size_t k = 2;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        mj_put(g, (const char *)run, (size_t)(s + i - run));
        run = s + i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
            break;
        }
        mj_put(g, esc, k);
    }
    mj_put(g, (const char *)run, (size_t)(s + n - run));
    mj_put(g, "\"", 1);
    RB_GC_GUARD(str);
}

static void mj_gen_long(mj_gen *g, long v)
{
    char digits[24];
    size_t i = sizeof(digits);
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[--i] = '-';
    mj_put(g, digits + i, sizeof(digits) - i);
}

static int mj_numeric_claim(VALUE name)
{
    const char *s = RSTRING_PTR(name);
    return RSTRING_LEN(name) == 3 &&
           (memcmp(s, "exp", 3) == 0 || memcmp(s, "nbf", 3) == 0 || memcmp(s, "iat", 3) == 0);
}

static int mj_gen_pair(VALUE key, VALUE value, VALUE arg)
{
    mj_pairs *p = (mj_pairs *)arg;
    mj_gen *g = p->g;
    VALUE name;
    int type;

    if (RB_TYPE_P(key, T_STRING) && RBASIC_CLASS(key) == rb_cString) {
        type = T_STRING;
        name = key;
    } else if (RB_TYPE_P(key, T_SYMBOL)) {
        type = T_SYMBOL;
        name = rb_sym2str(key);
    } else {
        g->ok = 0;
        return ST_STOP;
    }
    /* String and Symbol names in one Hash may spell one name twice: the
     * general path checks that. */
    if (p->first) {
        p->key_type = type;
        p->first = 0;
    } else {
        if (p->key_type != type) {
            g->ok = 0;
            return ST_STOP;
        }
        mj_put(g, ",", 1);
    }
    mj_gen_string(g, name);
    mj_put(g, ":", 1);
    /* exp, nbf, iat must be finite numbers: Integers pass here, the general
     * path checks anything else. */
    if (p->top && !FIXNUM_P(value) && mj_numeric_claim(name)) {
        g->ok = 0;
        return ST_STOP;
    }
    mj_gen_value(g, value);
    return g->ok ? ST_CONTINUE : ST_STOP;
}

static void mj_gen_hash(mj_gen *g, VALUE hash, int top)
{
    mj_pairs p;
    p.g = g;
    p.first = 1;
    p.key_type = 0;
    p.top = top;
    mj_put(g, "{", 1);
    if (g->ok && RHASH_SIZE(hash) > 0)
        rb_hash_foreach(hash, mj_gen_pair, (VALUE)&p);
    mj_put(g, "}", 1);
}

static void mj_gen_value(mj_gen *g, VALUE v)
{
    if (!g->ok)
        return;
    if (FIXNUM_P(v)) {
        mj_gen_long(g, FIX2LONG(v));
    } else if (v == Qnil) {
        mj_put(g, "null", 4);
    } else if (v == Qtrue) {
        mj_put(g, "true", 4);
    } else if (v == Qfalse) {
        mj_put(g, "false", 5);
    } else if (RB_TYPE_P(v, T_STRING) && RBASIC_CLASS(v) == rb_cString) {
        mj_gen_string(g, v);
    } else if (RB_TYPE_P(v, T_HASH) && RBASIC_CLASS(v) == rb_cHash) {
        if (++g->depth > MJ_JSON_MAX_DEPTH) {
            g->ok = 0;
            return;
        }
        mj_gen_hash(g, v, 0);
        g->depth--;
    } else if (RB_TYPE_P(v, T_ARRAY) && RBASIC_CLASS(v) == rb_cArray) {
        long i;
        if (++g->depth > MJ_JSON_MAX_DEPTH) {
            g->ok = 0;
            return;
        }
        mj_put(g, "[", 1);
        for (i = 0; g->ok && i < RARRAY_LEN(v); i++) {
            if (i > 0)
                mj_put(g, ",", 1);
            mj_gen_value(g, RARRAY_AREF(v, i));
        }
        mj_put(g, "]", 1);
        g->depth--;
    } else {
        /* Floats, big Integers, Symbols, subclasses, anything with its own
         * to_json: the general path. */
        g->ok = 0;
    }
}

long mj_rb_json_generate(VALUE hash, char *buf, size_t cap)
{
    mj_gen g;

    if (!RB_TYPE_P(hash, T_HASH) || RBASIC_CLASS(hash) != rb_cHash)
        return -1;
    g.buf = buf;
    g.cap = cap;
    g.len = 0;
    g.depth = 1;
    g.ok = 1;
    mj_gen_hash(&g, hash, 1);
    RB_GC_GUARD(hash);
    return g.ok ? (long)g.len : -1;
}
