# frozen_string_literal: true

# A dudect-style constant-time check of the MAC comparison and of signature
# verification (timing/dudect.c): prints Welch's |t| for MACs that differ in
# the first versus the last byte, with the number of measurements. It only
# prints: timing on a shared machine is not a pass/fail test.
#
#   rake timing                 TIMING_MEASUREMENTS per target (default 2000000)
#   rake timing[5000000]
module MailroomTiming
  ROOT = File.expand_path("..", __dir__)
  CORE_DIR = File.join(ROOT, "ext/mailroom_jwt")
  OUT = File.join(ROOT, "tmp/timing/dudect")

  module_function

  def build
    # The core's C files: those that do not include ruby.h.
    sources = [File.join(ROOT, "timing/dudect.c"),
               *Dir[File.join(CORE_DIR, "*.c")].reject { |f| File.read(f).match?(/^\s*#\s*include\s*[<"][^>"]*ruby/) }.sort]
    FileUtils.mkdir_p(File.dirname(OUT))
    cc = ENV.fetch("CC") { system("command -v clang >/dev/null 2>&1") ? "clang" : "cc" }
    system(cc, "-O2", "-std=gnu99", "-Wall", "-Wextra", "-D_POSIX_C_SOURCE=200809L", "-DOPENSSL_SUPPRESS_DEPRECATED",
           "-I#{CORE_DIR}", *sources, "-lcrypto", "-lm", "-o", OUT) or abort "timing: build failed"
    OUT
  end
end

desc "Constant-time check (dudect, Welch's t) of the MAC comparison and verification; prints |t|"
task :timing, [:measurements] do |_t, args|
  n = Integer(args[:measurements] || ENV.fetch("TIMING_MEASUREMENTS", "2000000"))
  exe = MailroomTiming.build
  puts "timing: Welch's t between MACs wrong in the first and in the last byte; |t| < 4.5: no leak detected"
  system(exe, n.to_s, "mac_equal", "sig_valid", "sig_decode", "control") or abort "timing: the measurement program failed"
end
