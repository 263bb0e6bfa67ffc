# frozen_string_literal: true

require "json"
require "logger"

require_relative "mailroom_jwt/version"
require_relative "mailroom_jwt/errors"
require_relative "mailroom_jwt/mailroom_jwt"
require_relative "mailroom_jwt/claims"
require_relative "mailroom_jwt/key"
require_relative "mailroom_jwt/compat"

# HS256 JSON Web Tokens for GitLab's incoming-email webhook, with a C core.
module MailroomJWT
  ALGORITHM = "HS256"

  # The sender side (issue 4): loaded on first use.
  autoload :Token, "mailroom_jwt/token"
  autoload :SenderConfigurationError, "mailroom_jwt/token"
  autoload :Postback, "mailroom_jwt/postback"
  autoload :CLI, "mailroom_jwt/cli"
  autoload :Doctor, "mailroom_jwt/doctor"
  autoload :Demo, "mailroom_jwt/demo"
  autoload :ReceiverServer, "mailroom_jwt/receiver_server"

  # The receiver (GitLab) side; loaded on first use (YAML, Rack, Sidekiq only then).
  autoload :Authenticatable, "mailroom_jwt/authenticatable"
  autoload :Mailboxes, "mailroom_jwt/mailboxes"
  autoload :Authenticator, "mailroom_jwt/authenticator"
  autoload :SecretConfigurationError, "mailroom_jwt/authenticator"
  autoload :UnknownMailbox, "mailroom_jwt/authenticator"
  autoload :MissingToken, "mailroom_jwt/authenticator"
  autoload :ReplayedToken, "mailroom_jwt/authenticator"
  autoload :BodyMismatch, "mailroom_jwt/authenticator"
  autoload :InternalAPI, "mailroom_jwt/internal_api"
  autoload :Queue, "mailroom_jwt/queue"
  autoload :ReplayCache, "mailroom_jwt/replay_cache"
  autoload :UTF8, "mailroom_jwt/utf8"
  autoload :WatchedFile, "mailroom_jwt/watched_file"

  class << self
    # Where the gem reports what an operator should know (a secret file that
    # others can read, one line per request or delivery). Never a secret.
    attr_writer :logger

    def logger
      @logger ||= Logger.new($stderr, level: Logger::WARN, progname: "mailroom-jwt")
    end
  end
end
