# frozen_string_literal: true

require "rbconfig"

# The benchmarks: bench/bench.rb (Ruby, side by side with ruby-jwt) and
# bench/core_bench.c (the C core alone, against a bare precomputed HMAC).
module MailroomJWTBenchTask
  CORE_SOURCES = %w[hs256 base64url token json secret_file].map { |f| "ext/mailroom_jwt/#{f}.c" }.freeze
  CORE_BIN = "tmp/bench/core_bench"

  module_function

  def crypto_flags
    cflags = `pkg-config --cflags libcrypto 2>/dev/null`.strip
    libs = `pkg-config --libs libcrypto 2>/dev/null`.strip
    [cflags, libs.empty? ? "-lcrypto" : libs]
  end

  def build_command
    cc = ENV.fetch("CC", RbConfig::CONFIG["CC"] || "cc")
    cflags, libs = crypto_flags
    werror = ENV["MAILROOM_JWT_WERROR"] == "1" ? " -Werror" : ""
    "#{cc} -O2 -std=c99 -Wall -Wextra#{werror} -D_POSIX_C_SOURCE=200809L -DOPENSSL_SUPPRESS_DEPRECATED " \
      "#{cflags} -Iext/mailroom_jwt bench/core_bench.c #{CORE_SOURCES.join(' ')} #{libs} -o #{CORE_BIN}"
  end
end

namespace :bench do
  file MailroomJWTBenchTask::CORE_BIN => ["bench/core_bench.c", "ext/mailroom_jwt/mj_core.h",
                                         *MailroomJWTBenchTask::CORE_SOURCES] do
    mkdir_p File.dirname(MailroomJWTBenchTask::CORE_BIN)
    sh MailroomJWTBenchTask.build_command
  end

  desc "Compile the C core benchmark (-O2, libcrypto)"
  task core_build: MailroomJWTBenchTask::CORE_BIN

  desc "Run the C core benchmark alone: core verify vs a bare precomputed HMAC-SHA256"
  task core: :core_build do
    sh MailroomJWTBenchTask::CORE_BIN
  end
end

desc "Benchmarks against ruby-jwt and of the C core (BENCH_JSON=path also writes JSON; BENCH_ROUNDS=n)"
task :bench, [:json] => [:compile, "bench:core_build"] do |_t, args|
  json = args[:json] || ENV.fetch("BENCH_JSON", nil)
  command = [RbConfig.ruby, "-Ilib", "bench/bench.rb", "--core", MailroomJWTBenchTask::CORE_BIN]
  command += ["--json", json] if json
  sh(*command)
end
