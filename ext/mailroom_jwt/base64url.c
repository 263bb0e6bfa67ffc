/* Strict base64url (RFC 7515 section 2: no padding, no whitespace, zero
 * trailing bits) and strict padded base64 (RFC 4648 section 4, as Ruby's
 * Base64.strict_decode64) for secret files. */
#include "mj_core.h"

static const char mj_url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char mj_std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for a digit of the alphabet, 0xff for anything else. */
static const unsigned char mj_url_values[256] = {
#define X 0xff
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,62,X,X, 52,53,54,55,56,57,58,59,60,61,X,X,X,X,X,X,
    X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,63,
    X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X
};
static const unsigned char mj_std_values[256] = {
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,62,X,X,X,63, 52,53,54,55,56,57,58,59,60,61,X,X,X,X,X,X,
    X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,X,
    X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X
#undef X
};

size_t mj_b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

static size_t mj_encode(const unsigned char *in, size_t n, char *out,
                        const char *alphabet, int pad)
{
    size_t i = 0, o = 0;
    while (i + 3 <= n) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
        i += 3;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (pad) { out[o++] = '='; out[o++] = '='; }
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        if (pad) out[o++] = '=';
    }
    return o;
}

size_t mj_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    return mj_encode(in, n, out, mj_url_alphabet, 0);
}

size_t mj_b64_encode(const unsigned char *in, size_t n, char *out)
{
    return mj_encode(in, n, out, mj_std_alphabet, 1);
}

size_t mj_b64url_decoded_max(size_t n)
{
    return (n / 4) * 3 + 2;
}

/* Decodes n digits with no padding. Rejects a length of 1 mod 4, any byte
 * outside the alphabet and non-zero trailing bits, so that every byte
 * string has exactly one accepted spelling. */
static int mj_decode_digits(const char *in, size_t n, unsigned char *out, size_t *outlen,
                            const unsigned char *values)
{
    size_t i = 0, o = 0;
    unsigned int bad = 0;

    if (n % 4 == 1)
        return MJ_ERR_ENCODING;
    while (i + 4 <= n) {
        unsigned int a = values[(unsigned char)in[i]], b = values[(unsigned char)in[i + 1]];
        unsigned int c = values[(unsigned char)in[i + 2]], d = values[(unsigned char)in[i + 3]];
        uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
        bad |= (a | b | c | d) & 0x80;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
        i += 4;
    }
    if (n - i == 2) {
        unsigned int a = values[(unsigned char)in[i]], b = values[(unsigned char)in[i + 1]];
        bad |= (a | b) & 0x80;
        bad |= (b & 0x0f) ? 0x80 : 0;
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
    } else if (n - i == 3) {
        unsigned int a = values[(unsigned char)in[i]], b = values[(unsigned char)in[i + 1]];
        unsigned int c = values[(unsigned char)in[i + 2]];
        bad |= (a | b | c) & 0x80;
        bad |= (c & 0x03) ? 0x80 : 0;
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        out[o++] = (unsigned char)((b << 4) | (c >> 2));
    }
    if (bad)
        return MJ_ERR_ENCODING;
    *outlen = o;
    return MJ_OK;
}

int mj_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    return mj_decode_digits(in, n, out, outlen, mj_url_values);
}

/* Padded standard base64: a multiple of four characters, '=' only as one or
 * two final characters, zero trailing bits, nothing else. */
int mj_b64_strict_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    size_t digits = n;

    if (n % 4 != 0)
        return MJ_ERR_ENCODING;
    if (digits > 0 && in[digits - 1] == '=')
        digits--;
    if (digits > 0 && in[digits - 1] == '=')
        digits--;
    if (digits % 4 == 1)
        return MJ_ERR_ENCODING;
    return mj_decode_digits(in, digits, out, outlen, mj_std_values);
}
