# frozen_string_literal: true

require "socket"
require "tmpdir"
require "fileutils"

# A real redis-server for specs: on 127.0.0.1, a free port, in its own
# temporary directory, without persistence (no RDB, no AOF), killed at exit.
#
#   redis = RedisServer.shared        # one server for the whole run, started on first use
#   redis.url                         # => "redis://127.0.0.1:PORT/0"
#   redis.port, redis.dir, redis.pid
#   redis.flushall                    # empties it (between examples)
#   redis.stop                        # kills it (TERM, then KILL after 5 s); the port stays reserved by this object
#   redis.start                       # starts it again on the SAME port (fault injection: stop, try, start)
#   redis.restart                     # stop + start
#   redis.running?                    # answers PING?
#   redis.command("SET", "k", "v")    # one command over a fresh connection (RESP), returns the reply
#
#   own = RedisServer.new.start       # a private server (e.g. to break it without disturbing others);
#   own.stop(remove_dir: true)        # call when done (at exit it is killed anyway)
#
# Every wait is bounded: start waits at most START_TIMEOUT seconds for PING to
# answer PONG, then raises with the end of the server's log.
class RedisServer
  START_TIMEOUT = 10
  STOP_TIMEOUT = 5
  HOST = "127.0.0.1"

  class Error < StandardError; end

  attr_reader :port, :dir, :pid

  def self.shared
    @shared ||= new.start
  end

  def self.all
    @all ||= []
  end

  OWNER_PID = Process.pid
  # Only the process that loaded this file stops the servers (not a fork).
  at_exit { RedisServer.all.each { |server| server.stop(remove_dir: true) } if Process.pid == OWNER_PID }

  def initialize(port: nil)
    @port = port || free_port
    @dir = Dir.mktmpdir("mailroom-jwt-redis-")
    @pid = nil
    self.class.all << self
  end

  def url(db: 0)
    "redis://#{HOST}:#{@port}/#{db}"
  end

  def start
    return self if @pid && alive?

    log = File.join(@dir, "redis.log")
    @pid = Process.spawn(
      "redis-server",
      "--bind", HOST, "--port", @port.to_s, "--dir", @dir,
      "--save", "", "--appendonly", "no", "--protected-mode", "no",
      "--daemonize", "no", "--logfile", log, "--databases", "4",
      in: File::NULL, out: File::NULL, err: File::NULL, pgroup: true
    )
    wait_until_ready(log)
    self
  end

  def stop(remove_dir: false)
    if @pid
      signal("TERM")
      deadline = monotonic + STOP_TIMEOUT
      until reaped?
        if monotonic > deadline
          signal("KILL")
          Process.wait(@pid)
          break
        end
        sleep 0.02
      end
      @pid = nil
    end
    FileUtils.rm_rf(@dir) if remove_dir
    self
  end

  def restart
    stop
    start
  end

  def running?
    !@pid.nil? && command("PING") == "PONG"
  rescue SystemCallError, IOError, Error
    false
  end

  def flushall
    command("FLUSHALL")
  end

  # Sends one command (RESP array of bulk strings) and reads one reply.
  def command(*args, timeout: 2)
    Socket.tcp(HOST, @port, connect_timeout: timeout) do |sock|
      sock.write("*#{args.size}\r\n" + args.map { |a| "$#{a.to_s.bytesize}\r\n#{a}\r\n" }.join)
      read_reply(sock, timeout)
    end
  end

  private

  def free_port
    server = TCPServer.new(HOST, 0)
    server.addr[1]
  ensure
    server&.close
  end

  def wait_until_ready(log)
    deadline = monotonic + START_TIMEOUT
    loop do
      return if command("PING", timeout: 0.5) == "PONG"
    rescue SystemCallError, IOError, Error
      unless alive?
        @pid = nil
        raise Error, "redis-server exited on port #{@port}: #{tail(log)}"
      end
      if monotonic > deadline
        stop
        raise Error, "redis-server did not answer PING within #{START_TIMEOUT}s on port #{@port}: #{tail(log)}"
      end
      sleep 0.05
    end
  end

  def read_reply(sock, timeout)
    line = gets_line(sock, timeout)
    case line[0]
    when "+" then line[1..]
    when "-" then raise Error, line[1..]
    when ":" then line[1..].to_i
    when "$"
      n = line[1..].to_i
      return nil if n.negative?

      data = +""
      data << read_some(sock, n + 2 - data.bytesize, timeout) while data.bytesize < n + 2
      data[0, n]
    when "*"
      n = line[1..].to_i
      n.negative? ? nil : Array.new(n) { read_reply(sock, timeout) }
    else
      raise Error, "unexpected reply #{line.inspect}"
    end
  end

  def gets_line(sock, timeout)
    line = +""
    line << read_some(sock, 1, timeout) until line.end_with?("\r\n")
    line.chomp("\r\n")
  end

  def read_some(sock, n, timeout)
    raise Error, "redis-server did not reply within #{timeout}s" unless sock.wait_readable(timeout)

    data = sock.read_nonblock(n, exception: false)
    raise Error, "redis-server closed the connection" if data.nil?

    data == :wait_readable ? "" : data
  end

  def alive?
    return false unless @pid

    !reaped?
  end

  def reaped?
    Process.wait(@pid, Process::WNOHANG) == @pid
  rescue Errno::ECHILD
    true
  end

  def signal(name)
    Process.kill(name, @pid)
  rescue Errno::ESRCH
    nil
  end

  def tail(log)
    File.exist?(log) ? File.read(log).lines.last(5).join.strip : "(no log)"
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end
