# frozen_string_literal: true

require "logger"
require "rbconfig"
require "securerandom"
require "socket"

# Helpers for the delivery load and fault specs (spec/integration/delivery_*):
# distinct emails, many concurrent senders (MailroomJWT::Postback, one per
# sender thread, as each mail_room mailbox has its own), a Rack middleware
# that counts the receiver's answers, and the real `mailroom-jwt serve` as a
# process that can be killed and restarted on the same port.
module DeliveryLoadHelpers
  # What one run came to. accepted: deliver returned true; refused: it
  # returned false (mail_room leaves such an email on the mail server and
  # tries again later); lost: accepted, yet nowhere in the queue;
  # duplicates: copies beyond the first.
  Tally = Struct.new(:name, :sent, :accepted, :refused, :attempts, :retried, :lost, :duplicates, :answers,
                     keyword_init: true) do
    def to_s
      answers_text = answers.sort.map { |status, n| "#{status}:#{n}" }.join(" ")
      format("delivery %-28s sent=%d accepted=%d refused=%d retried=%d lost=%d duplicates=%d receiver answers: %s",
             name, sent, accepted, refused, retried, lost, duplicates, answers_text)
    end
  end

  # Counts the status of every answer of the app it wraps.
  class StatusCounter
    def initialize(app)
      @app = app
      @counts = Hash.new(0)
      @lock = Mutex.new
    end

    def call(env)
      status, headers, body = @app.call(env)
      @lock.synchronize { @counts[status] += 1 }
      [status, headers, body]
    end

    def counts
      @lock.synchronize { @counts.dup }
    end

    def [](status)
      @lock.synchronize { @counts[status] }
    end
  end

  # n distinct emails of various sizes, valid UTF-8 (so the receiver's
  # conversion keeps them byte for byte), each naming itself.
  def load_emails(n, tag)
    Array.new(n) do |i|
      body = "Caf\u00e9 \u{1F600} #{SecureRandom.hex(8)}\r\n" * (1 + (i % 7) * 40)
      "From: sender#{i}@example.com\r\nTo: incoming@example.com\r\nMessage-ID: <#{tag}-#{i}@load.example.com>\r\n" \
        "Subject: #{tag} #{i}\r\n\r\n#{body}".b.force_encoding(Encoding::UTF_8)
    end
  end

  def sender_options(url, secret_path, **extra)
    { delivery_url: url, content_type: "text/plain", jwt_auth_header: "Gitlab-Mailroom-Api-Request",
      jwt_issuer: "gitlab-mailroom", jwt_algorithm: "HS256", jwt_secret_path: secret_path,
      logger: Logger.new(File::NULL) }.merge(extra)
  end

  # Delivers emails from `senders` threads, each with its own Postback.
  # Returns [results (one Postback::Result per email, in order), accepted count].
  def deliver_concurrently(emails, senders:, options:)
    results = Array.new(emails.size)
    work = Thread::Queue.new
    emails.each_index { |i| work << i }
    work.close
    threads = Array.new(senders) do
      Thread.new do
        postback = MailroomJWT::Postback.new(options)
        while (i = work.pop)
          results[i] = postback.deliver_with_result(emails[i])
        end
      ensure
        postback&.close
      end
    end
    threads.each(&:join)
    results
  end

  # Compares what was sent with what the queue holds (raw email Strings).
  def tally(name, emails, results, queued, answers)
    sent_counts = emails.map(&:b).tally
    queued_counts = queued.map(&:b).tally
    lost = emails.each_index.count { |i| results[i].success? && !queued_counts.key?(emails[i].b) }
    strangers = queued_counts.keys - sent_counts.keys
    raise "the queue holds #{strangers.size} emails that were never sent" unless strangers.empty?

    Tally.new(name: name, sent: emails.size, accepted: results.count(&:success?),
              refused: results.count { |r| !r.success? }, attempts: results.sum(&:attempts),
              retried: results.sum { |r| r.attempts - 1 }, lost: lost,
              duplicates: queued_counts.sum { |_, n| n - 1 }, answers: answers)
  end

  def report(tally)
    $stdout.puts("\n#{tally}")
  end

  def free_tcp_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  # The real command-line receiver, `mailroom-jwt serve`, as a child process
  # on a fixed port, its output in a log file; kill and start again at will.
  class ServeProcess
    EXE = File.expand_path("../../exe/mailroom-jwt", __dir__)
    LIB = File.expand_path("../../lib", __dir__)
    START_TIMEOUT = 30

    attr_reader :port, :log_path

    def initialize(args, dir:, port:)
      @args = args
      @port = port
      @log_path = File.join(dir, "serve-#{port}.log")
      @pid = nil
      @starts = 0
    end

    def url(mailbox = "incoming_email")
      "http://127.0.0.1:#{@port}/api/v4/internal/mail_room/#{mailbox}"
    end

    def start
      @starts += 1
      offset = File.exist?(@log_path) ? File.size(@log_path) : 0
      @pid = Process.spawn(RbConfig.ruby, "-I", LIB, EXE, "serve", *@args, "--port", @port.to_s,
                           in: File::NULL, out: [@log_path, "a"], err: [@log_path, "a"])
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + START_TIMEOUT
      until File.read(@log_path)[offset..].to_s.include?("listening on http://127.0.0.1:#{@port}")
        raise "mailroom-jwt serve exited: #{File.read(@log_path)[offset..]}" if Process.wait(@pid, Process::WNOHANG)
        raise "mailroom-jwt serve did not listen within #{START_TIMEOUT}s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

        sleep 0.05
      end
      self
    end

    # SIGKILL: no chance to finish the requests in flight.
    def kill
      return unless @pid

      Process.kill(:KILL, @pid)
      Process.wait(@pid)
      @pid = nil
    end

    # SIGTERM: the graceful stop.
    def stop
      return unless @pid

      Process.kill(:TERM, @pid)
      Process.wait(@pid)
      @pid = nil
    rescue Errno::ESRCH, Errno::ECHILD
      @pid = nil
    end

    # The status of every request, from serve's one JSON line per request.
    def answers
      File.read(@log_path).scan(/"event":"mail_room_request".*?"status":(\d+)/).flatten.map(&:to_i).tally
    end
  end
end

RSpec.configure do |config|
  config.include DeliveryLoadHelpers
end
