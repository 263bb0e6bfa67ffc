# frozen_string_literal: true

require "mkmf"

dir_config("openssl")
pkg_config("libcrypto") || pkg_config("openssl")

unless have_header("openssl/sha.h") && have_header("openssl/crypto.h") && have_header("openssl/rand.h")
  abort <<~MSG
    mailroom_jwt needs OpenSSL's headers (1.1.1 or newer).
    On Debian or Ubuntu: apt-get install libssl-dev
    Elsewhere: gem install gitlab-mailroom-jwt -- --with-openssl-dir=/path/to/openssl
  MSG
end

unless have_library("crypto", "CRYPTO_memcmp")
  abort "mailroom_jwt needs OpenSSL's libcrypto (1.1.1 or newer): apt-get install libssl-dev, " \
        "or pass --with-openssl-dir=/path/to/openssl"
end

unless try_compile(<<~C)
  #include <openssl/opensslv.h>
  #if OPENSSL_VERSION_NUMBER < 0x10101000L
  #error too old
  #endif
  int main(void) { return 0; }
C
  abort "mailroom_jwt needs OpenSSL 1.1.1 or newer"
end

have_func("rb_ext_ractor_safe", "ruby.h")

$CFLAGS << " -std=c99 -fvisibility=hidden -Wall -Wextra"
$CFLAGS << " -Werror" if ENV["MAILROOM_JWT_WERROR"] == "1"
$CPPFLAGS << " -D_POSIX_C_SOURCE=200809L -DOPENSSL_SUPPRESS_DEPRECATED"

create_makefile("mailroom_jwt/mailroom_jwt")
