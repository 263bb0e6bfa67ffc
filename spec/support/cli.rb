# frozen_string_literal: true

require "open3"
require "rbconfig"

# Runs the real exe/mailroom-jwt as a subprocess.
module CLISpecHelpers
  EXE = File.expand_path("../../exe/mailroom-jwt", __dir__)
  LIB = File.expand_path("../../lib", __dir__)

  CLIRun = Struct.new(:out, :err, :status, keyword_init: true) do
    def exitstatus
      status.exitstatus
    end
  end

  # [stdout, stderr, Process::Status]; bounded by timeout seconds.
  def run_cli(*args, stdin: "", chdir: Dir.pwd, timeout: 60)
    cmd = [RbConfig.ruby, "-I", LIB, EXE, *args.map(&:to_s)]
    Open3.popen3(*cmd, chdir: chdir) do |i, o, e, wait|
      i.binmode
      i.write(stdin)
      i.close
      out = Thread.new { o.read }
      err = Thread.new { e.read }
      unless wait.join(timeout)
        Process.kill("KILL", wait.pid)
        raise "mailroom-jwt #{args.join(' ')} did not finish within #{timeout}s"
      end
      CLIRun.new(out: out.value, err: err.value, status: wait.value)
    end
  end

  # An error is one line on stderr, never a backtrace.
  def expect_one_line_error(run, status, pattern)
    expect(run.exitstatus).to eq(status), "exit #{run.exitstatus}: #{run.err}"
    expect(run.err.lines.size).to eq(1), run.err
    expect(run.err).to start_with("mailroom-jwt: ")
    expect(run.err).to match(pattern)
    expect(run.err).not_to match(/\.rb:\d+/)
  end
end

RSpec.configure do |config|
  config.include CLISpecHelpers
end
