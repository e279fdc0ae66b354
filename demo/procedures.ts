// The chat demo's three procedures, as the original's test helpers defined them
// (docs/procedures.md): `ChatRoom.setName`, `ChatRoom.postMessage`, `ChatRoom.userLogout`, each calling the
// downstream chat service at `baseUrl` (see chat-service.ts). The scope must carry
// `params.accessToken`: it is sent as the Authorization header.
import type { ModelClass } from '../src/model/index.js';
import {
  arrayPropertyConstraint,
  defineProcedure,
  expr,
  hasNewValuePropertyConstraint,
  type SyncProcedure,
} from '../src/procedures/index.js';
import { ChatRoomStatus } from './models.js';

export interface ChatProcedures {
  setName: SyncProcedure;
  postMessage: SyncProcedure;
  userLogout: SyncProcedure;
}

/** Defines the three procedures on `ChatRoom` (once per class) against the service at `baseUrl`. */
export function defineChatProcedures(ChatRoom: ModelClass, baseUrl: string): ChatProcedures {
  const base = baseUrl.replace(/\/+$/, '');
  const statusValue: Record<string, string> = {
    [ChatRoomStatus.Open]: 'OPEN',
    [ChatRoomStatus.Closed]: 'CLOSED',
  };

  const setName = defineProcedure(ChatRoom, 'setName', {
    constraints: [
      {
        type: 'change',
        clsName: 'ChatRoom',
        properties: { name: hasNewValuePropertyConstraint() },
        allowAdditionalProperties: false,
      },
    ],
    remote: {
      type: 'http',
      url: `${base}/room/:chatRoomUUID`,
      params: { chatRoomUUID: expr('$incoming.ChatRoom.change.uuid') },
      method: 'post',
      headers: {
        Authorization: expr('$scope.params.accessToken'),
        'X-ChatRoom-SetName': expr('$incoming.ChatRoom.change.name'),
      },
    },
  });

  const postMessage = defineProcedure(ChatRoom, 'postMessage', {
    constraints: [
      {
        type: 'change',
        clsName: 'ChatRoom',
        properties: { messages: arrayPropertyConstraint({ type: 'insert' }) },
        allowAdditionalProperties: false,
      },
      {
        type: 'add',
        clsName: 'Message',
        properties: {
          author: hasNewValuePropertyConstraint(),
          postedAt: hasNewValuePropertyConstraint(),
          text: hasNewValuePropertyConstraint(),
        },
        allowAdditionalProperties: false,
      },
    ],
    remote: {
      type: 'http',
      url: `${base}/room/:chatRoomUUID/messages`,
      params: { chatRoomUUID: expr('$incoming.ChatRoom.change.uuid') },
      method: 'post',
      headers: {
        Authorization: expr('$scope.params.accessToken'),
        'X-ChatRoom-Locale': expr('$rootModel.attributes.locale'),
        'X-ChatRoom-Status': expr('$case.statusValue($rootModel.attributes.status)'),
        'X-ChatRoom-MessageId': expr('$incoming.ChatRoom.change.messages[-1]'),
        'X-ChatRoom-InsertedMessageId': expr('$incoming.ChatRoom.change.messages[inserted[0]]'),
        // Optional (an extension of the original): an empty room has no previous message.
        'X-ChatRoom-PreviousMessageAuthorUsername': expr(
          '$model.find($incoming.ChatRoom.change.uuid).messages[-1].author.username',
          { optional: true },
        ),
      },
      body: {
        uuid: expr('$incoming.Message.add.uuid'),
        authorUUID: expr('$incoming.Message.add.author'),
        postedAt: expr('$incoming.Message.add.postedAt'),
        text: expr('$incoming.Message.add.text'),
        tags: ['staticValue0', 'staticValue1'],
      },
      cases: { statusValue },
    },
  });

  const userLogout = defineProcedure(ChatRoom, 'userLogout', {
    constraints: [
      {
        type: 'change',
        clsName: 'ChatRoom',
        properties: { users: arrayPropertyConstraint({ type: 'remove' }) },
        allowAdditionalProperties: false,
      },
    ],
    remote: {
      type: 'http',
      url: `${base}/room/:chatRoomUUID/users/:userUUID/logout`,
      params: {
        chatRoomUUID: expr('$incoming.ChatRoom.change.uuid'),
        userUUID: expr('$incoming.ChatRoom.change.users[removed[0]]'),
      },
      method: 'post',
      headers: {
        Authorization: expr('$scope.params.accessToken'),
        'X-ChatRoom-Locale': expr('$rootModel.attributes.locale'),
      },
      body: { uuid: expr('$incoming.ChatRoom.change.users[removed[0]]') },
    },
  });

  return { setName, postMessage, userLogout };
}
