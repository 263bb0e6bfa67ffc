/* Ruby bindings for the C core (with ruby_json.c, the only files that
 * include ruby.h).
 *
 * Memory rules: no malloc'ed memory is held across a call that can raise;
 * secrets live in the TypedData struct (wiped on free) or on the C stack
 * (wiped before any raise). Input strings are read while the GVL is held and
 * nothing calls back into Ruby in between. */
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "mj_ruby.h"

static VALUE mj_mMailroomJWT, mj_cKey, mj_eDecodeError, mj_eSecretFileError;
static VALUE mj_eEncodeError, mj_eVerificationError, mj_eIncorrectAlgorithm, mj_eInvalidPayload;
static VALUE mj_str_alg, mj_str_crit, mj_str_hs256, mj_canonical_header;

/* Room for the decoded header and payload of the longest token. */
#define MJ_DECODED_MAX (MJ_TOKEN_MAX / 4 * 3 + 8)

/* The base64url spelling of the canonical header {"alg":"HS256"}. */
static const char mj_canonical_header_b64[] = "eyJhbGciOiJIUzI1NiJ9";

static void mj_key_free(void *ptr)
{
    mj_key *key = ptr;
    mj_key_wipe(key);
    ruby_xfree(key);
}

static size_t mj_key_memsize(const void *ptr)
{
    (void)ptr;
    return sizeof(mj_key);
}

static const rb_data_type_t mj_key_type = {
    .wrap_struct_name = "MailroomJWT::Key",
    .function = {
        .dmark = NULL,
        .dfree = mj_key_free,
        .dsize = mj_key_memsize,
    },
    .flags = RUBY_TYPED_FREE_IMMEDIATELY | RUBY_TYPED_WB_PROTECTED | RUBY_TYPED_FROZEN_SHAREABLE,
};

static VALUE mj_key_alloc(VALUE klass)
{
    mj_key *key;
    VALUE obj = TypedData_Make_Struct(klass, mj_key, &mj_key_type, key);
    memset(key, 0, sizeof(*key));
    return obj;
}

static mj_key *mj_get_key(VALUE self)
{
    mj_key *key;
    TypedData_Get_Struct(self, mj_key, &mj_key_type, key);
    if (!key->ready)
        rb_raise(rb_eArgError, "MailroomJWT::Key is not initialized");
    return key;
}

/* Key#native_init(bytes): bytes is a String the Ruby layer has checked. */
static VALUE mj_key_native_init(VALUE self, VALUE bytes)
{
    mj_key *key;
    TypedData_Get_Struct(self, mj_key, &mj_key_type, key);
    StringValue(bytes);
    if (key->ready)
        rb_raise(rb_eArgError, "MailroomJWT::Key is already initialized");
    if (RSTRING_LEN(bytes) > MJ_MAX_KEY_LEN)
        rb_raise(rb_eArgError, "key is longer than %d bytes", MJ_MAX_KEY_LEN);
    mj_key_init(key, (const unsigned char *)RSTRING_PTR(bytes), (size_t)RSTRING_LEN(bytes));
    RB_GC_GUARD(bytes);
    return self;
}

/* Key.native_generate: 32 bytes from OpenSSL's CSPRNG. */
static VALUE mj_key_s_native_generate(VALUE klass)
{
    unsigned char secret[MJ_SECRET_LEN];
    /* Allocate first: nothing may raise while the secret is on the stack. */
    VALUE obj = mj_key_alloc(klass);
    if (RAND_bytes(secret, MJ_SECRET_LEN) != 1) {
        OPENSSL_cleanse(secret, sizeof(secret));
        rb_raise(rb_eRuntimeError, "the CSPRNG failed to produce a key");
    }
    mj_key_init(DATA_PTR(obj), secret, MJ_SECRET_LEN);
    OPENSSL_cleanse(secret, sizeof(secret));
    return obj;
}

static void mj_raise_file(int status, int err, VALUE path)
{
    if (err != 0)
        rb_raise(mj_eSecretFileError, "%"PRIsVALUE": %s (%s)", path, mj_status_message(status),
                 strerror(err));
    rb_raise(mj_eSecretFileError, "%"PRIsVALUE": %s", path, mj_status_message(status));
}

/* A secret-file path as a frozen String. A path that cannot name a file (a
 * NUL byte, an encoding that is not ASCII-compatible) is a SecretFileError:
 * checked before FilePathValue, which would raise ArgumentError or
 * Encoding::CompatibilityError for them. */
static VALUE mj_secret_path(VALUE path)
{
    if (RB_TYPE_P(path, T_STRING)) {
        if (!rb_enc_asciicompat(rb_enc_get(path)))
            rb_raise(mj_eSecretFileError, "secret file path must be in an ASCII-compatible encoding, not %s",
                     rb_enc_name(rb_enc_get(path)));
        if (memchr(RSTRING_PTR(path), '\0', (size_t)RSTRING_LEN(path)) != NULL)
            rb_raise(mj_eSecretFileError, "secret file path contains a NUL byte");
    }
    FilePathValue(path);
    return rb_str_new_frozen(path);
}

/* Key.native_read(path) -> [key, mode] */
static VALUE mj_key_s_native_read(VALUE klass, VALUE path)
{
    unsigned char secret[MJ_SECRET_LEN];
    unsigned int mode = 0;
    int err = 0, status;
    VALUE key;

    path = mj_secret_path(path);
    /* Allocate first: nothing may raise while the secret is on the stack. */
    key = mj_key_alloc(klass);
    status = mj_secret_read(StringValueCStr(path), secret, &mode, &err);
    if (status != MJ_OK) {
        OPENSSL_cleanse(secret, sizeof(secret));
        mj_raise_file(status, err, path);
    }
    mj_key_init(DATA_PTR(key), secret, MJ_SECRET_LEN);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rb_assoc_new(key, UINT2NUM(mode));
}

/* Key#native_write(path) */
static VALUE mj_key_native_write(VALUE self, VALUE path)
{
    mj_key *key = mj_get_key(self);
    int err = 0, status;

    path = mj_secret_path(path);
    status = mj_secret_write(StringValueCStr(path), key->raw, key->raw_len, &err);
    if (status != MJ_OK)
        mj_raise_file(status, err, path);
    return Qnil;
}

/* base64url(header) "." base64url(payload) "." base64url(mac), in one
 * allocation; a NULL header is the canonical {"alg":"HS256"}. */
static VALUE mj_sign(const mj_key *key, const char *hdr, size_t hdr_len,
                     const char *pay, size_t pay_len)
{
    size_t hdr_b64, pay_b64, total, o = 0;
    unsigned char mac[MJ_MAC_LEN];
    VALUE out;
    char *p;

    hdr_b64 = hdr == NULL ? sizeof(mj_canonical_header_b64) - 1 : mj_b64url_encoded_len(hdr_len);
    pay_b64 = mj_b64url_encoded_len(pay_len);
    total = hdr_b64 + 1 + pay_b64 + 1 + MJ_SIG_B64_LEN;
    if (pay_len > MJ_TOKEN_MAX || hdr_len > MJ_TOKEN_MAX || total > MJ_TOKEN_MAX)
        rb_raise(mj_eEncodeError, "token would be longer than %d bytes", MJ_TOKEN_MAX);
    out = rb_usascii_str_new(NULL, (long)total);
    p = RSTRING_PTR(out);
    if (hdr == NULL) {
        memcpy(p, mj_canonical_header_b64, hdr_b64);
        o = hdr_b64;
    } else {
        o = mj_b64url_encode((const unsigned char *)hdr, hdr_len, p);
    }
    p[o++] = '.';
    o += mj_b64url_encode((const unsigned char *)pay, pay_len, p + o);
    mj_hmac(key, (const unsigned char *)p, o, mac);
    p[o++] = '.';
    o += mj_b64url_encode(mac, MJ_MAC_LEN, p + o);
    OPENSSL_cleanse(mac, sizeof(mac));
    rb_str_set_len(out, (long)o);
    return out;
}

/* Key#native_encode(header_json_or_nil, payload_json) -> token */
static VALUE mj_key_native_encode(VALUE self, VALUE header, VALUE payload)
{
    mj_key *key = mj_get_key(self);
    VALUE out;

    StringValue(payload);
    if (!NIL_P(header))
        StringValue(header);
    out = mj_sign(key, NIL_P(header) ? NULL : RSTRING_PTR(header),
                  NIL_P(header) ? 0 : (size_t)RSTRING_LEN(header),
                  RSTRING_PTR(payload), (size_t)RSTRING_LEN(payload));
    RB_GC_GUARD(header);
    RB_GC_GUARD(payload);
    return out;
}

/* Key#native_encode_hash(payload) -> token under the canonical header, or
 * nil when the payload needs the general path (JSON.generate and the
 * encode rules in Ruby). */
static VALUE mj_key_native_encode_hash(VALUE self, VALUE payload)
{
    mj_key *key = mj_get_key(self);
    char json[MJ_TOKEN_MAX];
    long n = mj_rb_json_generate(payload, json, sizeof(json));

    if (n < 0)
        return Qnil;
    return mj_sign(key, NULL, 0, json, (size_t)n);
}

static VALUE mj_decode_segment(const char *b64, size_t len)
{
    size_t max = mj_b64url_decoded_max(len), got = 0;
    VALUE out = rb_utf8_str_new(NULL, (long)max);
    if (mj_b64url_decode(b64, len, (unsigned char *)RSTRING_PTR(out), &got) != MJ_OK)
        rb_raise(mj_eDecodeError, "%s", mj_status_message(MJ_ERR_ENCODING));
    rb_str_set_len(out, (long)got);
    return out;
}

static void mj_check_json(VALUE json, size_t *members)
{
    int status = mj_json_object_check((const unsigned char *)RSTRING_PTR(json),
                                      (size_t)RSTRING_LEN(json), members);
    if (status != MJ_OK)
        rb_raise(mj_eDecodeError, "%s", mj_status_message(status));
}

/* Key#native_open(token) -> [header_json or nil (canonical header), mac_ok,
 *                            header_members]
 * For Key#verify, at the JWS level: the payload may be any bytes, but its
 * base64url must be canonical. Raises DecodeError for anything structural:
 * size, characters, segment count, empty segments, non-canonical
 * base64url, and a header that is not a strict JSON object. */
static VALUE mj_key_native_open(VALUE self, VALUE token)
{
    mj_key *key = mj_get_key(self);
    mj_segments seg;
    VALUE header = Qnil;
    size_t header_members = 1;
    int status, mac_ok;

    if (!RB_TYPE_P(token, T_STRING))
        rb_raise(mj_eDecodeError, "token must be a String");
    if (RSTRING_LEN(token) > MJ_TOKEN_MAX)
        rb_raise(mj_eDecodeError, "%s", mj_status_message(MJ_ERR_TOO_LONG));
    status = mj_token_scan(RSTRING_PTR(token), (size_t)RSTRING_LEN(token), &seg);
    if (status != MJ_OK)
        rb_raise(mj_eDecodeError, "%s", mj_status_message(status));
    if (!(seg.header_len == sizeof(mj_canonical_header_b64) - 1 &&
          memcmp(seg.header, mj_canonical_header_b64, seg.header_len) == 0)) {
        /* Strict base64url has one spelling per byte string, so any other
         * header segment is another header: parse and check it. */
        header = mj_decode_segment(seg.header, seg.header_len);
        mj_check_json(header, &header_members);
    }
    (void)mj_decode_segment(seg.payload, seg.payload_len); /* canonical base64url, or raise */
    mac_ok = mj_sig_valid(key, &seg);
    RB_GC_GUARD(token);
    return rb_ary_new_from_args(3, header, mac_ok ? Qtrue : Qfalse, SIZET2NUM(header_members));
}

static void mj_raise_status(int status)
{
    rb_raise(mj_eDecodeError, "%s", mj_status_message(status));
}

/* The header's rules: no repeated name, alg exactly "HS256" (never taken
 * from the token), no crit. */
static VALUE mj_header_object(const unsigned char *json, size_t len)
{
    int status, duplicate;
    VALUE header = mj_rb_json_object(json, len, &status, &duplicate), alg;

    if (status != MJ_OK)
        mj_raise_status(status);
    if (duplicate)
        rb_raise(mj_eDecodeError, "duplicate header names");
    alg = rb_hash_lookup2(header, mj_str_alg, Qundef);
    if (!(RB_TYPE_P(alg, T_STRING) && RSTRING_LEN(alg) == 5 &&
          memcmp(RSTRING_PTR(alg), "HS256", 5) == 0))
        rb_raise(mj_eIncorrectAlgorithm, "Expected a different algorithm");
    if (rb_hash_lookup2(header, mj_str_crit, Qundef) != Qundef)
        rb_raise(mj_eDecodeError, "crit header is not supported");
    return header;
}

/* Key#native_decode(token, verify_signature) -> [payload, header]
 * In this order: a String, size, characters, segments; the header a strict
 * JSON object in strict base64url; the payload's base64url; the header's
 * rules; the MAC (always computed); only then the payload, a strict JSON
 * object with no name repeated. */
static VALUE mj_key_native_decode(VALUE self, VALUE token, VALUE verify_signature)
{
    mj_key *key = mj_get_key(self);
    mj_segments seg;
    unsigned char buf[MJ_DECODED_MAX];
    unsigned char *header_json = buf, *payload_json;
    size_t header_len = 0, payload_len = 0, members = 0;
    int status, canonical, mac_ok, duplicate;
    VALUE header, payload;

    if (NIL_P(token))
        rb_raise(mj_eDecodeError, "Nil JSON web token");
    if (!RB_TYPE_P(token, T_STRING))
        rb_raise(mj_eDecodeError, "token must be a String, got %"PRIsVALUE, rb_obj_class(token));
    if (RSTRING_LEN(token) > MJ_TOKEN_MAX)
        mj_raise_status(MJ_ERR_TOO_LONG);
    status = mj_token_scan(RSTRING_PTR(token), (size_t)RSTRING_LEN(token), &seg);
    if (status != MJ_OK)
        mj_raise_status(status);
    canonical = seg.header_len == sizeof(mj_canonical_header_b64) - 1 &&
                memcmp(seg.header, mj_canonical_header_b64, seg.header_len) == 0;
    if (!canonical) {
        status = mj_b64url_decode(seg.header, seg.header_len, header_json, &header_len);
        if (status == MJ_OK)
            status = mj_json_object_check(header_json, header_len, &members);
        if (status != MJ_OK)
            mj_raise_status(status);
    }
    payload_json = buf + header_len;
    status = mj_b64url_decode(seg.payload, seg.payload_len, payload_json, &payload_len);
    if (status != MJ_OK)
        mj_raise_status(status);
    mac_ok = mj_sig_valid(key, &seg);
    /* Nothing below reads the token. */
    RB_GC_GUARD(token);

    if (canonical) {
        header = rb_hash_dup(mj_canonical_header); /* a copy the caller owns */
    } else {
        header = mj_header_object(header_json, header_len);
    }
    if (RTEST(verify_signature) && !mac_ok)
        rb_raise(mj_eVerificationError, "Signature verification failed");
    /* Only now is the payload read as JSON: one pass checks it and makes
     * its objects. */
    payload = mj_rb_json_object(payload_json, payload_len, &status, &duplicate);
    if (status != MJ_OK)
        mj_raise_status(status);
    if (duplicate)
        rb_raise(mj_eInvalidPayload, "duplicate claim names in payload");
    return rb_assoc_new(payload, header);
}

/* Native.json_parse(str) -> Hash: the decoder's JSON objects, for specs. */
static VALUE mj_s_json_parse(VALUE mod, VALUE str)
{
    int status, duplicate;
    VALUE out;
    (void)mod;
    StringValue(str);
    str = rb_str_new_frozen(str);
    out = mj_rb_json_object((const unsigned char *)RSTRING_PTR(str), (size_t)RSTRING_LEN(str),
                            &status, &duplicate);
    RB_GC_GUARD(str);
    if (status != MJ_OK)
        mj_raise_status(status);
    if (duplicate)
        rb_raise(mj_eInvalidPayload, "duplicate names");
    return out;
}

/* Native.json_generate(hash) -> String or nil: the encoder's JSON, for specs. */
static VALUE mj_s_json_generate(VALUE mod, VALUE hash)
{
    char json[MJ_TOKEN_MAX];
    long n = mj_rb_json_generate(hash, json, sizeof(json));
    (void)mod;
    return n < 0 ? Qnil : rb_utf8_str_new(json, n);
}

/* Key#== : equal when the keys sign alike, compared in constant time. */
static VALUE mj_key_equal_p(VALUE self, VALUE other)
{
    if (!rb_typeddata_is_kind_of(other, &mj_key_type))
        return Qfalse;
    return mj_key_equal(mj_get_key(self), mj_get_key(other)) ? Qtrue : Qfalse;
}

/* Key#fingerprint: 16 hex digits of an HMAC of a fixed label. It identifies a
 * key in logs and diagnostics and reveals nothing of it. */
static VALUE mj_key_fingerprint(VALUE self)
{
    static const unsigned char label[] = "mailroom-jwt key fingerprint";
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[MJ_MAC_LEN];
    char out[16];
    int i;

    mj_hmac(mj_get_key(self), label, sizeof(label) - 1, mac);
    for (i = 0; i < 8; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return rb_usascii_str_new(out, 16);
}

/* Native.b64url_decode(str) -> bytes, strict; for specs and the CLI. */
static VALUE mj_s_b64url_decode(VALUE mod, VALUE str)
{
    (void)mod;
    StringValue(str);
    {
        VALUE out = mj_decode_segment(RSTRING_PTR(str), (size_t)RSTRING_LEN(str));
        rb_enc_associate(out, rb_ascii8bit_encoding());
        RB_GC_GUARD(str);
        return out;
    }
}

static VALUE mj_s_b64url_encode(VALUE mod, VALUE str)
{
    VALUE out;
    size_t n;
    (void)mod;
    StringValue(str);
    n = mj_b64url_encoded_len((size_t)RSTRING_LEN(str));
    out = rb_usascii_str_new(NULL, (long)n);
    mj_b64url_encode((const unsigned char *)RSTRING_PTR(str), (size_t)RSTRING_LEN(str),
                     RSTRING_PTR(out));
    RB_GC_GUARD(str);
    return out;
}

/* Native.hmac(key_bytes, data) -> 32 bytes; for the published HMAC vectors,
 * which include keys shorter than a JWS key may be. */
static VALUE mj_s_hmac(VALUE mod, VALUE key_bytes, VALUE data)
{
    mj_key key;
    unsigned char mac[MJ_MAC_LEN];
    VALUE out;
    (void)mod;
    StringValue(key_bytes);
    StringValue(data);
    if (mj_key_init(&key, (const unsigned char *)RSTRING_PTR(key_bytes),
                    (size_t)RSTRING_LEN(key_bytes)) != 0) {
        mj_key_wipe(&key);
        rb_raise(rb_eArgError, "key is longer than %d bytes", MJ_MAX_KEY_LEN);
    }
    mj_hmac(&key, (const unsigned char *)RSTRING_PTR(data), (size_t)RSTRING_LEN(data), mac);
    mj_key_wipe(&key);
    out = rb_str_new((const char *)mac, MJ_MAC_LEN);
    OPENSSL_cleanse(mac, sizeof(mac));
    RB_GC_GUARD(key_bytes);
    RB_GC_GUARD(data);
    return out;
}

static VALUE mj_s_mac_equal(VALUE mod, VALUE a, VALUE b)
{
    (void)mod;
    StringValue(a);
    StringValue(b);
    if (RSTRING_LEN(a) != RSTRING_LEN(b))
        return Qfalse;
    return mj_mac_equal((const unsigned char *)RSTRING_PTR(a), (const unsigned char *)RSTRING_PTR(b),
                        (size_t)RSTRING_LEN(a)) ? Qtrue : Qfalse;
}

RUBY_FUNC_EXPORTED void Init_mailroom_jwt(void)
{
    VALUE mNative;

#ifdef HAVE_RB_EXT_RACTOR_SAFE
    rb_ext_ractor_safe(true);
#endif
    mj_mMailroomJWT = rb_define_module("MailroomJWT");
    mj_eDecodeError = rb_const_get(mj_mMailroomJWT, rb_intern("DecodeError"));
    mj_eSecretFileError = rb_const_get(mj_mMailroomJWT, rb_intern("SecretFileError"));
    mj_eEncodeError = rb_const_get(mj_mMailroomJWT, rb_intern("EncodeError"));
    mj_eVerificationError = rb_const_get(mj_mMailroomJWT, rb_intern("VerificationError"));
    mj_eIncorrectAlgorithm = rb_const_get(mj_mMailroomJWT, rb_intern("IncorrectAlgorithm"));
    mj_eInvalidPayload = rb_const_get(mj_mMailroomJWT, rb_intern("InvalidPayload"));
    rb_gc_register_mark_object(mj_eDecodeError);
    rb_gc_register_mark_object(mj_eSecretFileError);
    rb_gc_register_mark_object(mj_eEncodeError);
    rb_gc_register_mark_object(mj_eVerificationError);
    rb_gc_register_mark_object(mj_eIncorrectAlgorithm);
    rb_gc_register_mark_object(mj_eInvalidPayload);
    /* Frozen, deduplicated: the very objects "alg" and "HS256" literals are. */
    mj_str_alg = rb_enc_interned_str("alg", 3, rb_utf8_encoding());
    mj_str_crit = rb_enc_interned_str("crit", 4, rb_utf8_encoding());
    mj_str_hs256 = rb_enc_interned_str("HS256", 5, rb_utf8_encoding());
    rb_gc_register_mark_object(mj_str_alg);
    rb_gc_register_mark_object(mj_str_crit);
    rb_gc_register_mark_object(mj_str_hs256);
    mj_rb_json_init();
    mj_canonical_header = rb_hash_new();
    rb_hash_aset(mj_canonical_header, mj_str_alg, mj_str_hs256);
    rb_obj_freeze(mj_canonical_header);
    rb_gc_register_mark_object(mj_canonical_header);

    mj_cKey = rb_define_class_under(mj_mMailroomJWT, "Key", rb_cObject);
    rb_define_alloc_func(mj_cKey, mj_key_alloc);
    rb_define_private_method(mj_cKey, "native_init", mj_key_native_init, 1);
    rb_define_private_method(mj_cKey, "native_write", mj_key_native_write, 1);
    rb_define_private_method(mj_cKey, "native_encode", mj_key_native_encode, 2);
    rb_define_private_method(mj_cKey, "native_open", mj_key_native_open, 1);
    rb_define_private_method(mj_cKey, "native_decode", mj_key_native_decode, 2);
    rb_define_private_method(mj_cKey, "native_encode_hash", mj_key_native_encode_hash, 1);
    rb_define_method(mj_cKey, "==", mj_key_equal_p, 1);
    rb_define_method(mj_cKey, "fingerprint", mj_key_fingerprint, 0);
    rb_define_singleton_method(mj_cKey, "native_generate", mj_key_s_native_generate, 0);
    rb_define_singleton_method(mj_cKey, "native_read", mj_key_s_native_read, 1);
    rb_funcall(mj_cKey, rb_intern("private_class_method"), 2,
               ID2SYM(rb_intern("native_generate")), ID2SYM(rb_intern("native_read")));

    mNative = rb_define_module_under(mj_mMailroomJWT, "Native");
    rb_define_module_function(mNative, "b64url_decode", mj_s_b64url_decode, 1);
    rb_define_module_function(mNative, "b64url_encode", mj_s_b64url_encode, 1);
    rb_define_module_function(mNative, "hmac", mj_s_hmac, 2);
    rb_define_module_function(mNative, "mac_equal?", mj_s_mac_equal, 2);
    rb_define_module_function(mNative, "json_parse", mj_s_json_parse, 1);
    rb_define_module_function(mNative, "json_generate", mj_s_json_generate, 1);
    rb_define_const(mNative, "TOKEN_MAX", INT2NUM(MJ_TOKEN_MAX));
    rb_define_const(mNative, "MIN_KEY_LENGTH", INT2NUM(MJ_MIN_KEY_LEN));
    rb_define_const(mNative, "MAX_KEY_LENGTH", INT2NUM(MJ_MAX_KEY_LEN));
    rb_define_const(mNative, "SECRET_FILE_MAX", INT2NUM(MJ_SECRET_FILE_MAX));
}
