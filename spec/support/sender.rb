# frozen_string_literal: true

require "base64"
require "logger"
require "socket"
require "stringio"
require "webrick"

# Helpers for the sender's specs: secret files, and real HTTP servers on
# 127.0.0.1 (WEBrick for well-behaved receivers, a bare TCPServer for the
# faulty ones). Every server runs in a thread and is stopped by the spec.
module SenderSpecHelpers
  # A GitLab secret file of 32 random bytes (or the given bytes), mode 0600.
  def write_secret_file(path, bytes = Random.bytes(32))
    File.write(path, Base64.strict_encode64(bytes))
    File.chmod(0o600, path)
    path
  end

  # A WEBrick server that records each request and answers with what the
  # block returns: [status, body] (default 200 {"success":true}).
  class RecordingServer
    Request = Struct.new(:path, :headers, :body, keyword_init: true)

    attr_reader :requests, :port

    def initialize(&answer)
      @answer = answer || ->(_req) { [200, '{"success":true}'] }
      @requests = Queue.new
      @server = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: 0,
                                        Logger: WEBrick::Log.new(File::NULL), AccessLog: [])
      @port = @server.config[:Port]
      @server.mount_proc("/") do |req, res|
        headers = req.header.transform_values(&:first)
        recorded = Request.new(path: req.path, headers: headers, body: req.body.to_s.b)
        @requests << recorded
        res.status, res.body = @answer.call(recorded)
        res["Content-Type"] = "application/json"
      end
      @thread = Thread.new { @server.start }
    end

    def url(path = "/api/v4/internal/mail_room/incoming_email")
      "http://127.0.0.1:#{port}#{path}"
    end

    def all_requests
      list = []
      list << @requests.pop until @requests.empty?
      list
    end

    def stop
      @server.shutdown
      @thread.join(5)
    end
  end

  # A TCP listener on 127.0.0.1 whose behaviour the block decides, one
  # accepted connection at a time: block(socket, index). Counts connections.
  class RawServer
    attr_reader :port, :connections

    def initialize(&behaviour)
      @server = TCPServer.new("127.0.0.1", 0)
      @port = @server.addr[1]
      @connections = 0
      @clients = []
      @thread = Thread.new do
        loop do
          client = @server.accept
          @clients << client
          index = @connections
          @connections += 1
          Thread.new do
            behaviour.call(client, index)
          rescue IOError, SystemCallError
            nil
          end
        end
      rescue IOError, SystemCallError
        nil
      end
    end

    def url
      "http://127.0.0.1:#{port}/api/v4/internal/mail_room/incoming_email"
    end

    def stop
      @server.close
      @thread.join(5)
      @clients.each { |c| c.close unless c.closed? }
    end

    # Reads one HTTP request (headers and a Content-Length body).
    def self.read_request(socket)
      head = +""
      head << socket.readpartial(4096) until head.include?("\r\n\r\n")
      header, body = head.split("\r\n\r\n", 2)
      length = header[/^content-length:\s*(\d+)/i, 1].to_i
      body << socket.readpartial(4096) while body.bytesize < length
      [header, body]
    end

    def self.respond(socket, status, body = "{}")
      socket.write("HTTP/1.1 #{status} X\r\nContent-Type: application/json\r\n" \
                    "Content-Length: #{body.bytesize}\r\n\r\n#{body}")
    end
  end

  def with_recording_server(answer = nil, &block)
    server = answer ? RecordingServer.new(&answer) : RecordingServer.new
    block.call(server)
  ensure
    server&.stop
  end

  def with_raw_server(behaviour, &block)
    server = RawServer.new(&behaviour)
    block.call(server)
  ensure
    server&.stop
  end

  # The single element of list (failing the example otherwise).
  def the_only(list)
    expect(list.size).to eq(1), "expected exactly one, got #{list.size}"
    list.first
  end

  # Loads the real mail_room gem, whose own files are not warning-free.
  def require_mail_room(*features)
    verbose = $VERBOSE
    $VERBOSE = nil
    (["mail_room"] + features).each { |f| require f }
  ensure
    $VERBOSE = verbose
  end

  # A Logger writing into a StringIO, for asserting log lines.
  def string_logger
    io = StringIO.new
    [Logger.new(io, level: Logger::DEBUG), io]
  end
end

RSpec.configure do |config|
  config.include SenderSpecHelpers
end
