# frozen_string_literal: true

require "io/wait"
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

  # Starts mailroom-jwt in the background; yields (stdout, stderr, wait
  # thread) and kills it at the end if it still runs.
  def with_background_cli(*args)
    cmd = [RbConfig.ruby, "-I", LIB, EXE, *args.map(&:to_s)]
    Open3.popen3(*cmd) do |stdin, out, err, wait|
      stdin.close
      yield out, err, wait
    ensure
      if wait.alive?
        Process.kill("KILL", wait.pid)
        wait.join(5)
      end
    end
  end

  # Reads io until pattern matches what was read; bounded by timeout seconds.
  def read_until(io, pattern, timeout: 20)
    text = +""
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    until text.match?(pattern)
      left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
      raise "no #{pattern.inspect} within #{timeout}s; got: #{text}" if left <= 0

      next unless io.wait_readable(left)

      text << io.readpartial(4096)
    end
    text
  rescue EOFError
    raise "output ended before #{pattern.inspect}; got: #{text}"
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
