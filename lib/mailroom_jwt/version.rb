# frozen_string_literal: true

module MailroomJWT
  VERSION = "0.1.0"
end
