# frozen_string_literal: true

require "mailroom_jwt"
require "mail_room"

module MailroomJWT
  # `require "mailroom_jwt/mail_room"` in a mail_room process (for example
  # from the ERB of its YAML file, or RUBYOPT=-rmailroom_jwt/mail_room) makes
  # every mailbox with `delivery_method: postback` deliver through
  # MailroomJWT::Postback, signed by MailroomJWT::Token, with no other change
  # to the configuration: the delivery options keep mail_room's names.
  # MailRoom::JWT itself is left alone.
  module MailRoomIntegration
    # Prepended to MailRoom::Delivery's singleton: Delivery["postback"].
    module DeliveryLookup
      def [](name)
        return MailroomJWT::Postback if name.to_s == "postback"

        super
      end
    end

    # Prepended to MailRoom::Mailbox: a mailbox whose delivery class was
    # resolved before this file was loaded is switched over as well.
    module MailboxDelivery
      def delivery_klass
        klass = super
        if defined?(::MailRoom::Delivery::Postback) && klass.equal?(::MailRoom::Delivery::Postback)
          klass = self[:delivery_klass] = MailroomJWT::Postback
        end
        klass
      end
    end

    def self.install
      ::MailRoom::Delivery.singleton_class.prepend(DeliveryLookup)
      ::MailRoom::Mailbox.prepend(MailboxDelivery)
    end
  end
end

MailroomJWT::MailRoomIntegration.install
