# frozen_string_literal: true

require "net/http"
require "socket"

RSpec.describe MailroomJWT::ReceiverServer do
  let(:app) { ->(env) { [200, { "content-type" => "text/plain" }, ["#{env['REQUEST_METHOD']} #{env['PATH_INFO']}"]] } }

  %w[puma webrick].each do |name|
    it "serves the app on 127.0.0.1 with #{name}, and stops" do
      server = described_class.new(app, port: 0, server: name).start
      port = server.port
      url = server.url("incoming_email")
      expect(url).to eq("http://127.0.0.1:#{port}/api/v4/internal/mail_room/incoming_email")

      response = Net::HTTP.post(URI(url), "body", "Content-Type" => "text/plain")
      expect(response.body).to eq("POST /api/v4/internal/mail_room/incoming_email")

      server.stop
      expect { TCPSocket.new("127.0.0.1", port).close }.to raise_error(Errno::ECONNREFUSED)
    end
  end

  it "says which port it cannot take" do
    TCPServer.open("127.0.0.1", 0) do |taken|
      port = taken.addr[1]
      expect { described_class.new(app, port: port).start }
        .to raise_error(MailroomJWT::Error, /cannot listen on 127\.0\.0\.1:#{port}/)
    end
  end

  it "refuses an unknown server or a bad port" do
    expect { described_class.new(app, server: "thin") }.to raise_error(ArgumentError, /puma, webrick/)
    expect { described_class.new(app, port: 70_000) }.to raise_error(ArgumentError, /port/)
  end

  it "has no port before it starts" do
    expect { described_class.new(app).port }.to raise_error(MailroomJWT::Error, /not started/)
  end
end
