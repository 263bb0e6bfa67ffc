# frozen_string_literal: true

# libFuzzer harnesses for the pure C core (fuzz/*.c), built with clang and
# AddressSanitizer + UndefinedBehaviorSanitizer against the core's own .c
# files (everything in ext/mailroom_jwt/ but the Ruby bindings) and libcrypto.
#
#   rake fuzz                 every harness, FUZZ_SECONDS each (default 300)
#   rake fuzz[60]             every harness, 60 seconds each
#   rake fuzz:run[token,600]  one harness
#   rake fuzz:build           build only
#
# Each run starts from the committed seeds in fuzz/corpus/<harness>/ and grows
# a working corpus in fuzz/corpus-work/<harness>/ (not committed). A crash
# leaves its input in fuzz/build/artifacts/<harness>/ and fails the task: turn
# it into a regression spec and a seed, then fix the core.
module MailroomFuzz
  extend FileUtils
  ROOT = File.expand_path("..", __dir__)
  CORE_DIR = File.join(ROOT, "ext/mailroom_jwt")
  BUILD_DIR = File.join(ROOT, "fuzz/build")
  HARNESSES = Dir[File.join(ROOT, "fuzz/fuzz_*.c")].map { |f| File.basename(f, ".c").delete_prefix("fuzz_") }.sort
  # Longest input each harness tries: the token harness goes past the
  # token cap, the secret parser past the secret-file cap.
  MAX_LEN = { "token" => 17_000, "secret" => 1100, "base64url" => 4096, "json" => 4096 }.freeze
  CFLAGS = %w[
    -g -O1 -std=c99 -Wall -Wextra
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
    -D_POSIX_C_SOURCE=200809L -DOPENSSL_SUPPRESS_DEPRECATED
  ].freeze

  module_function

  # The pure C core: every .c file of the extension that does not include
  # ruby.h (the bindings do).
  def core_sources
    Dir[File.join(CORE_DIR, "*.c")].reject { |f| File.read(f).match?(/^\s*#\s*include\s*[<"][^>"]*ruby/) }.sort
  end

  # Optional parts of the core that a harness also covers when present.
  def feature_defines
    header = File.read(File.join(CORE_DIR, "mj_core.h"))
    header.include?("mj_json_parse(") ? ["-DMJ_HAVE_JSON_PARSE"] : []
  end

  def clang
    ENV.fetch("CLANG") { %w[clang clang-14].find { |c| system("command -v #{c} >/dev/null 2>&1") } || "clang" }
  end

  def binary(name)
    File.join(BUILD_DIR, "fuzz_#{name}")
  end

  def build(name)
    FileUtils.mkdir_p(BUILD_DIR)
    sources = [File.join(ROOT, "fuzz/fuzz_#{name}.c"), *core_sources]
    out = binary(name)
    return out if File.exist?(out) && sources.all? { |s| File.mtime(s) <= File.mtime(out) } &&
                  File.mtime(File.join(CORE_DIR, "mj_core.h")) <= File.mtime(out)

    werror = ENV["MAILROOM_JWT_WERROR"] == "1" ? ["-Werror"] : []
    sh clang, *CFLAGS, *werror, *feature_defines, "-I#{CORE_DIR}", *sources, "-lcrypto", "-o", out
    out
  end

  # Runs one harness for seconds; returns {execs:, seconds:, corpus:}.
  def run(name, seconds)
    exe = build(name)
    work = File.join(ROOT, "fuzz/corpus-work", name)
    artifacts = File.join(BUILD_DIR, "artifacts", name) + "/"
    FileUtils.mkdir_p([work, artifacts])
    seeds = File.join(ROOT, "fuzz/corpus", name)
    args = [exe, work, seeds, "-max_total_time=#{seconds}", "-max_len=#{MAX_LEN.fetch(name, 4096)}",
            "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1", "-artifact_prefix=#{artifacts}"]
    env = { "ASAN_OPTIONS" => "detect_leaks=1:abort_on_error=1",
            "UBSAN_OPTIONS" => "print_stacktrace=1:halt_on_error=1" }
    log = File.join(BUILD_DIR, "fuzz_#{name}.log")
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    ok = system(env, *args, out: log, err: log)
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    text = File.read(log, mode: "rb")
    execs = text[/stat::number_of_executed_units:\s*(\d+)/, 1].to_i
    corpus = Dir[File.join(work, "*")].size
    unless ok
      warn text.lines.last(60).join
      abort "fuzz #{name}: FAILED after #{execs} executions; the input is in #{artifacts}"
    end
    puts format("fuzz %-10s %10d executions in %5.1f s (%d inputs in the working corpus)",
                name, execs, elapsed, corpus)
    { execs: execs, seconds: elapsed, corpus: corpus }
  end
end

desc "Fuzz every C-core harness (libFuzzer, ASan+UBSan); seconds per harness (default FUZZ_SECONDS or 300)"
task :fuzz, [:seconds] do |_t, args|
  seconds = Integer(args[:seconds] || ENV.fetch("FUZZ_SECONDS", "300"))
  MailroomFuzz::HARNESSES.each { |name| MailroomFuzz.run(name, seconds) }
end

namespace :fuzz do
  desc "Build the fuzz harnesses"
  task :build do
    MailroomFuzz::HARNESSES.each { |name| MailroomFuzz.build(name) }
  end

  desc "Fuzz one harness: rake fuzz:run[token,600]"
  task :run, [:harness, :seconds] do |_t, args|
    name = args[:harness] or abort "usage: rake fuzz:run[HARNESS,SECONDS]; harnesses: #{MailroomFuzz::HARNESSES.join(', ')}"
    abort "no harness #{name}; harnesses: #{MailroomFuzz::HARNESSES.join(', ')}" unless MailroomFuzz::HARNESSES.include?(name)
    MailroomFuzz.run(name, Integer(args[:seconds] || ENV.fetch("FUZZ_SECONDS", "300")))
  end
end
