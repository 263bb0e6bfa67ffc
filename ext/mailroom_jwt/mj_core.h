/*
 * The pure C core of mailroom_jwt: HMAC-SHA256 with precomputed key state,
 * strict base64url and base64, the compact-JWS token scan, a strict JSON
 * validator and the GitLab secret-file reader and writer.
 *
 * Nothing here includes ruby.h: the core compiles alone, for C tests,
 * benchmarks and fuzz harnesses. Only the bindings (mailroom_jwt.c and
 * ruby_json.c) talk to Ruby.
 */
#ifndef MJ_CORE_H
#define MJ_CORE_H

#include <stddef.h>
#include <stdint.h>

/* The low-level SHA-256 API is deprecated in OpenSSL 3 but not removed: its
 * context is a plain struct, so a keyed midstate is copied with one
 * assignment, several times cheaper than EVP_MD_CTX_copy_ex or one-shot
 * HMAC(). extconf.rb defines OPENSSL_SUPPRESS_DEPRECATED for it. */
#include <openssl/sha.h>

#if defined(__GNUC__)
#define MJ_HIDDEN __attribute__((visibility("hidden")))
#else
#define MJ_HIDDEN
#endif

#define MJ_MAC_LEN 32
#define MJ_SIG_B64_LEN 43            /* base64url of 32 bytes, no padding */
#define MJ_BLOCK_LEN 64              /* SHA-256 block size */
#define MJ_MIN_KEY_LEN 32            /* RFC 7518 section 3.2 */
#define MJ_MAX_KEY_LEN 4096
#define MJ_TOKEN_MAX 16384           /* bytes; checked before any other work */
#define MJ_JSON_MAX_DEPTH 32
#define MJ_SECRET_LEN 32             /* GitLab's SECRET_LENGTH */
#define MJ_SECRET_FILE_MAX 1024      /* a secret file is 44 bytes; refuse to read more */

/* Status codes shared by the core's functions. 0 is success. */
enum mj_status {
    MJ_OK = 0,
    MJ_ERR_TOO_LONG,        /* token longer than MJ_TOKEN_MAX */
    MJ_ERR_SEGMENTS,        /* not exactly three segments */
    MJ_ERR_EMPTY_SEGMENT,   /* empty header or payload */
    MJ_ERR_CHAR,            /* a byte outside base64url and '.' */
    MJ_ERR_ENCODING,        /* non-canonical base64url in header or payload */
    MJ_ERR_JSON,            /* not a strict JSON object */
    MJ_ERR_JSON_DEPTH,      /* nested deeper than MJ_JSON_MAX_DEPTH */
    MJ_ERR_UTF8,            /* invalid UTF-8 inside JSON */
    /* secret files */
    MJ_ERR_FILE_OPEN,       /* errno says why */
    MJ_ERR_FILE_NOT_REGULAR,
    MJ_ERR_FILE_TOO_LARGE,
    MJ_ERR_FILE_READ,       /* errno says why */
    MJ_ERR_FILE_EMPTY,
    MJ_ERR_FILE_BASE64,
    MJ_ERR_FILE_LENGTH,
    MJ_ERR_FILE_WRITE       /* errno says why */
};

/* A keyed HMAC-SHA256 state: the padded key's inner and outer midstates,
 * computed once. The raw key is kept (for writing a secret file and for
 * comparing keys); mj_key_wipe cleanses everything. */
typedef struct {
    SHA256_CTX inner;
    SHA256_CTX outer;
    unsigned char raw[MJ_MAX_KEY_LEN];
    size_t raw_len;
    int ready;
} mj_key;

/* The three segments of a compact JWS, pointing into the token. */
typedef struct {
    const char *header;
    size_t header_len;
    const char *payload;
    size_t payload_len;
    const char *sig;
    size_t sig_len;
} mj_segments;

/* hs256.c */
MJ_HIDDEN int mj_key_init(mj_key *key, const unsigned char *bytes, size_t len);
MJ_HIDDEN void mj_key_wipe(mj_key *key);
MJ_HIDDEN void mj_hmac(const mj_key *key, const unsigned char *msg, size_t len,
                       unsigned char out[MJ_MAC_LEN]);
MJ_HIDDEN int mj_mac_equal(const unsigned char *a, const unsigned char *b, size_t len);
MJ_HIDDEN int mj_key_equal(const mj_key *a, const mj_key *b);
MJ_HIDDEN int mj_sig_valid(const mj_key *key, const mj_segments *seg);

/* base64url.c */
MJ_HIDDEN size_t mj_b64url_encoded_len(size_t n);
MJ_HIDDEN size_t mj_b64url_encode(const unsigned char *in, size_t n, char *out);
MJ_HIDDEN size_t mj_b64url_decoded_max(size_t n);
MJ_HIDDEN int mj_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);
MJ_HIDDEN int mj_b64_strict_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);
MJ_HIDDEN size_t mj_b64_encode(const unsigned char *in, size_t n, char *out);

/* token.c */
MJ_HIDDEN int mj_token_scan(const char *token, size_t len, mj_segments *seg);
MJ_HIDDEN int mj_json_object_check(const unsigned char *json, size_t len, size_t *members);
MJ_HIDDEN int mj_utf8_valid(const unsigned char *s, size_t len);
MJ_HIDDEN size_t mj_utf8_seq(const unsigned char *s, size_t n);

/* json.c: what mj_json_parse reports to a sink, in document order. KEY,
 * STRING, INTEGER and FLOAT come with their span of the input (a string's
 * content between its quotes; escaped says it holds a backslash); END
 * closes the innermost OBJECT or ARRAY. A sink returns MJ_OK to go on, any
 * other status to stop the parse with it. */
enum mj_json_event {
    MJ_JSON_OBJECT,
    MJ_JSON_ARRAY,
    MJ_JSON_END,
    MJ_JSON_KEY,
    MJ_JSON_STRING,
    MJ_JSON_INTEGER,
    MJ_JSON_FLOAT,
    MJ_JSON_TRUE,
    MJ_JSON_FALSE,
    MJ_JSON_NULL
};
typedef int (*mj_json_sink)(void *ctx, int event, const unsigned char *raw, size_t len,
                            int escaped);
/* One strict JSON object (see json.c); sink may be NULL. *members is the
 * number of top-level members, names repeated or not. */
MJ_HIDDEN int mj_json_parse(const unsigned char *json, size_t len, mj_json_sink sink, void *ctx,
                            size_t *members);
MJ_HIDDEN size_t mj_json_unescape(const unsigned char *raw, size_t len, unsigned char *out);

/* secret_file.c */
MJ_HIDDEN int mj_secret_read(const char *path, unsigned char out[MJ_SECRET_LEN],
                             unsigned int *mode, int *err);
MJ_HIDDEN int mj_secret_parse(const char *buf, size_t len, unsigned char out[MJ_SECRET_LEN]);
MJ_HIDDEN int mj_secret_write(const char *path, const unsigned char *key, size_t len, int *err);
MJ_HIDDEN const char *mj_status_message(int status);

#endif
