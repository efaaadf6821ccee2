/**
 * What a webhook event carries in `data`: the object as the API's own answer shows it
 * (`{"audio_clip": …}` as GET /audio_clips/:id does), rendered when the event is sent.
 * An object deleted before then is `{"id": N, "deleted": true}` under the same key.
 */
import type { EventType } from '../domain/events/events.js';
import type { AttachmentRecord } from '../domain/attachments/ports.js';
import type { ClipRecord } from '../domain/clips/ports.js';
import type { MessageRecord } from '../domain/messages/ports.js';
import type { EventRenderer } from '../webhooks/webhook-dispatcher.js';
import { attachmentView, clipView, messageView } from './views.js';

export interface EventSubjects {
  attachment(id: number): Promise<AttachmentRecord | null>;
  clip(id: number): Promise<ClipRecord | null>;
  message(id: number): Promise<MessageRecord | null>;
}

export function webhookRenderer(subjects: EventSubjects): EventRenderer {
  const gone = (id: number) => ({ id, deleted: true });
  const render = async (type: EventType, id: number): Promise<Record<string, unknown>> => {
    switch (type) {
      case 'attachment.completed': {
        const record = await subjects.attachment(id);
        return { attachment: record ? attachmentView(record) : gone(id) };
      }
      case 'audio_clip.created':
      case 'audio_clip.processed': {
        const record = await subjects.clip(id);
        return { audio_clip: record ? clipView(record) : gone(id) };
      }
      case 'message.created':
      case 'message.processed': {
        const record = await subjects.message(id);
        return { message: record ? messageView(record) : gone(id) };
      }
      // Its data is fixed when it is recorded (the user is gone by then); this is only a fallback.
      case 'user.deleted':
        return { user: gone(id) };
    }
  };
  return render;
}
