# frozen_string_literal: true

module MailroomJWT
  # Runs a Rack application (the InternalAPI) on a real HTTP server, Puma by
  # default or WEBrick, in background threads of this process:
  #
  #   server = MailroomJWT::ReceiverServer.new(app, port: 0).start
  #   server.url("incoming_email") # => "http://127.0.0.1:41234/api/v4/internal/mail_room/incoming_email"
  #   server.stop
  #
  # Binds 127.0.0.1 unless told otherwise; port 0 takes any free port. The
  # server gem is loaded by #start, never by require "mailroom_jwt".
  class ReceiverServer
    SERVERS = %w[puma webrick].freeze
    PATH = "/api/v4/internal/mail_room"

    attr_reader :host, :server_name

    def initialize(app, host: "127.0.0.1", port: 0, server: "puma", threads: 4)
      raise ArgumentError, "server must be one of #{SERVERS.join(', ')}, got #{server.inspect}" unless SERVERS.include?(server.to_s)
      raise ArgumentError, "port must be an Integer from 0 to 65535" unless port.is_a?(Integer) && port.between?(0, 65_535)

      @app = app
      @host = host
      @requested_port = port
      @server_name = server.to_s
      @threads = threads
      @port = nil
    end

    # Starts listening; returns self once connections are accepted.
    def start
      raise Error, "#{@server_name} server already started" if @port

      @server_name == "puma" ? start_puma : start_webrick
      self
    rescue SystemCallError => e
      raise Error, "cannot listen on #{@host}:#{@requested_port} (#{e.message})"
    end

    def port
      @port or raise Error, "server not started"
    end

    def base_url
      host = @host.include?(":") ? "[#{@host}]" : @host
      "http://#{host}:#{port}"
    end

    def url(mailbox_type)
      "#{base_url}#{PATH}/#{mailbox_type}"
    end

    # Waits until the server stops (for a foreground process).
    def wait
      @thread&.join
    end

    # Stops accepting, finishes the requests in flight, and returns.
    def stop
      return unless @port

      if @puma
        @puma.stop(true)
      else
        @webrick.shutdown
        @thread.join(10)
      end
      @port = nil
    end

    private

    def start_puma
      require "puma"
      require "puma/server"
      require "puma/log_writer"
      @puma = ::Puma::Server.new(@app, nil, log_writer: ::Puma::LogWriter.null, min_threads: 0,
                                            max_threads: @threads)
      @puma.add_tcp_listener(@host, @requested_port)
      @thread = @puma.run
      @port = @puma.connected_ports.first
    end

    def start_webrick
      require "rackup"
      require "rackup/handler/webrick"
      require "webrick"
      ready = Thread::Queue.new
      @thread = Thread.new do
        ::Rackup::Handler::WEBrick.run(@app, Host: @host, Port: @requested_port,
                                             Logger: ::WEBrick::Log.new(File::NULL), AccessLog: []) do |server|
          @webrick = server
          ready << server.config[:Port]
        end
      rescue StandardError => e
        ready << e
      end
      port = ready.pop
      raise port if port.is_a?(Exception)

      @port = port
    end
  end
end
