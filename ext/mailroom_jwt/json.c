/* A strict JSON (RFC 8259) parser for the top-level object of a JWS header
 * or payload: no comments, no NaN or Infinity, no leading zeros, no trailing
 * commas, valid UTF-8 (no lone surrogates, even escaped), nesting capped at
 * MJ_JSON_MAX_DEPTH. It allocates nothing and recurses nowhere.
 *
 * Without a sink it only validates. With one, it reports each value as it
 * is read (the bindings build Ruby objects from the events); strings and
 * numbers are reported as spans of the input, and mj_json_unescape turns a
 * string span into its UTF-8 bytes. */
#include <string.h>
#include "mj_core.h"

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int status;
} mj_json;

static void mj_ws(mj_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int mj_fail(mj_json *j, int status)
{
    if (j->status == MJ_OK)
        j->status = status;
    return 0;
}

static int mj_hex4(const unsigned char *p, unsigned int *out)
{
    unsigned int v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned int)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* 1 for the bytes a string holds as they are: printable ASCII but '"' and '\\'. */
static const unsigned char mj_plain[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,0,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1
    /* 0x80 and above: 0, checked as UTF-8 */
};

/* At an opening quote. On success the content (between the quotes) is
 * [*raw, *raw + *len) and *escaped says whether it holds a backslash. */
static int mj_string(mj_json *j, const unsigned char **raw, size_t *len, int *escaped)
{
    const unsigned char *start = j->p + 1, *p = start, *end = j->end;
    int esc = 0;
    for (;;) {
        unsigned char c;
        while (p < end && mj_plain[*p])
            p++;
        if (p >= end)
            break;
        c = *p;
        if (c == '"') {
            *raw = start;
            *len = (size_t)(p - start);
            *escaped = esc;
            j->p = p + 1;
            return 1;
        }
        if (c < 0x20)
            return mj_fail(j, MJ_ERR_JSON);
        if (c == '\\') {
            esc = 1;
            if (end - p < 2)
                return mj_fail(j, MJ_ERR_JSON);
            c = p[1];
            if (c == 'u') {
                unsigned int u, low;
                if (end - p < 6 || !mj_hex4(p + 2, &u))
                    return mj_fail(j, MJ_ERR_JSON);
                p += 6;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return mj_fail(j, MJ_ERR_UTF8);
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                        !mj_hex4(p + 2, &low) || low < 0xdc00 || low > 0xdfff)
                        return mj_fail(j, MJ_ERR_UTF8);
                    p += 6;
                }
                continue;
            }
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
                c != 'n' && c != 'r' && c != 't')
                return mj_fail(j, MJ_ERR_JSON);
            p += 2;
            continue;
        }
        {
            size_t k = mj_utf8_seq(p, (size_t)(end - p));
            if (k == 0)
                return mj_fail(j, MJ_ERR_UTF8);
            p += k;
        }
    }
    return mj_fail(j, MJ_ERR_JSON);
}

static int mj_digits(mj_json *j)
{
    const unsigned char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

/* *is_float: the number has a fraction or an exponent. */
static int mj_number(mj_json *j, int *is_float)
{
    *is_float = 0;
    if (*j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return mj_fail(j, MJ_ERR_JSON);
    if (*j->p == '0') {
        j->p++;
    } else if (!mj_digits(j)) {
        return mj_fail(j, MJ_ERR_JSON);
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        *is_float = 1;
        if (!mj_digits(j))
            return mj_fail(j, MJ_ERR_JSON);
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        *is_float = 1;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!mj_digits(j))
            return mj_fail(j, MJ_ERR_JSON);
    }
    return 1;
}

static int mj_literal(mj_json *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return mj_fail(j, MJ_ERR_JSON);
    j->p += n;
    return 1;
}

/* Reports an event; a sink's non-zero answer ends the parse with it. */
#define MJ_EMIT(event, raw, len, flag)                                  \
    do {                                                                \
        if (sink != NULL) {                                             \
            int mj_rc_ = sink(ctx, (event), (raw), (len), (flag));      \
            if (mj_rc_ != MJ_OK)                                        \
                return mj_rc_;                                          \
        }                                                               \
    } while (0)

/* An iterative parser: stack[d] is '{' or '[' for each open container. */
int mj_json_parse(const unsigned char *json, size_t len, mj_json_sink sink, void *ctx,
                  size_t *members)
{
    mj_json j;
    char stack[MJ_JSON_MAX_DEPTH];
    int depth = 0;
    size_t top = 0;
    const unsigned char *raw = NULL;
    size_t raw_len = 0;
    int flag = 0;

    j.p = json;
    j.end = json + len;
    j.status = MJ_OK;
    mj_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return MJ_ERR_JSON;
    stack[depth++] = '{';
    MJ_EMIT(MJ_JSON_OBJECT, NULL, 0, 0);
    j.p++;
    mj_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        depth = 0;
        MJ_EMIT(MJ_JSON_END, NULL, 0, 0);
        goto done;
    }
    for (;;) {
        /* at the start of a member (object) or an element (array) */
        mj_ws(&j);
        if (j.p >= j.end)
            return MJ_ERR_JSON;
        if (stack[depth - 1] == '{') {
            if (*j.p != '"' || !mj_string(&j, &raw, &raw_len, &flag))
                return j.status ? j.status : MJ_ERR_JSON;
            if (depth == 1)
                top++;
            mj_ws(&j);
            if (j.p >= j.end || *j.p != ':')
                return MJ_ERR_JSON;
            j.p++;
            mj_ws(&j);
            if (j.p >= j.end)
                return MJ_ERR_JSON;
            MJ_EMIT(MJ_JSON_KEY, raw, raw_len, flag);
        }
        /* a value */
        switch (*j.p) {
        case '{':
        case '[':
            if (depth >= MJ_JSON_MAX_DEPTH)
                return MJ_ERR_JSON_DEPTH;
            stack[depth++] = (char)*j.p;
            MJ_EMIT(*j.p == '{' ? MJ_JSON_OBJECT : MJ_JSON_ARRAY, NULL, 0, 0);
            j.p++;
            mj_ws(&j);
            if (j.p < j.end && *j.p == (stack[depth - 1] == '{' ? '}' : ']')) {
                j.p++;
                depth--;
                MJ_EMIT(MJ_JSON_END, NULL, 0, 0);
                break; /* an empty container is a complete value */
            }
            continue;
        case '"':
            if (!mj_string(&j, &raw, &raw_len, &flag))
                return j.status;
            MJ_EMIT(MJ_JSON_STRING, raw, raw_len, flag);
            break;
        case 't':
            if (!mj_literal(&j, "true", 4))
                return j.status;
            MJ_EMIT(MJ_JSON_TRUE, NULL, 0, 0);
            break;
        case 'f':
            if (!mj_literal(&j, "false", 5))
                return j.status;
            MJ_EMIT(MJ_JSON_FALSE, NULL, 0, 0);
            break;
        case 'n':
            if (!mj_literal(&j, "null", 4))
                return j.status;
            MJ_EMIT(MJ_JSON_NULL, NULL, 0, 0);
            break;
        default:
            if (*j.p == '-' || (*j.p >= '0' && *j.p <= '9')) {
                raw = j.p;
                if (!mj_number(&j, &flag))
                    return j.status;
                MJ_EMIT(flag ? MJ_JSON_FLOAT : MJ_JSON_INTEGER, raw, (size_t)(j.p - raw), 0);
                break;
            }
            return MJ_ERR_JSON;
        }
        /* after a complete value: a comma or the end of containers */
        for (;;) {
            mj_ws(&j);
            if (j.p >= j.end)
                return MJ_ERR_JSON;
            if (*j.p == ',') {
                j.p++;
                break;
            }
            if (*j.p == (stack[depth - 1] == '{' ? '}' : ']')) {
                j.p++;
                depth--;
                MJ_EMIT(MJ_JSON_END, NULL, 0, 0);
                if (depth == 0)
                    goto done;
                continue;
            }
            return MJ_ERR_JSON;
        }
    }
done:
    mj_ws(&j);
    if (j.p != j.end)
        return MJ_ERR_JSON;
    *members = top;
    return MJ_OK;
}

static size_t mj_put_utf8(unsigned int u, unsigned char *out)
{
    if (u < 0x80) {
        out[0] = (unsigned char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (unsigned char)(0xc0 | (u >> 6));
        out[1] = (unsigned char)(0x80 | (u & 0x3f));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (u >> 12));
        out[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (u & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (u >> 18));
    out[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (u & 0x3f));
    return 4;
}

/* The UTF-8 bytes of a string span that mj_json_parse has accepted; out has
 * room for len bytes (unescaping never lengthens). Returns the length. */
size_t mj_json_unescape(const unsigned char *raw, size_t len, unsigned char *out)
{
    size_t i = 0, o = 0;
    while (i < len) {
        const unsigned char *run = memchr(raw + i, '\\', len - i);
        size_t plain = run ? (size_t)(run - (raw + i)) : len - i;
        memcpy(out + o, raw + i, plain);
        i += plain;
        o += plain;
        if (i >= len)
            break;
        switch (raw[i + 1]) {
        case 'b': out[o++] = '\b'; i += 2; break;
        case 'f': out[o++] = '\f'; i += 2; break;
        case 'n': out[o++] = '\n'; i += 2; break;
        case 'r': out[o++] = '\r'; i += 2; break;
        case 't': out[o++] = '\t'; i += 2; break;
        case 'u': {
            unsigned int u = 0, low = 0;
            mj_hex4(raw + i + 2, &u);
            i += 6;
            if (u >= 0xd800 && u <= 0xdbff) {
                mj_hex4(raw + i + 2, &low);
                i += 6;
                u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
            }
            o += mj_put_utf8(u, out + o);
            break;
        }
        default: /* '"', '\\', '/' */
            out[o++] = raw[i + 1];
            i += 2;
            break;
        }
    }
    return o;
}
