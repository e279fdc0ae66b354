// The models of the original demos, shared by the demo server, the browser page, tests and
// benchmarks. Imports only model/ so that it bundles for the browser.
import { enumeration, model } from '../src/model/index.js';

/** The shapes canvas (original `demos/shapes`). `type` picks the shape's colour. */
export const Shape = model('Shape', function () {
  this.has('x', Number);
  this.has('y', Number);
  this.has('width', Number);
  this.has('height', Number);
  this.has('type', Number);
});

export const Canvas = model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [Shape]);
});

/** The chat room (original `demos/chat`). */
export const ChatRoomStatus = enumeration('ChatRoomStatus', Number, { Open: 0, Closed: 1 });

export const User = model('User', function () {
  this.has('username', String);
  this.has('color', Number);
  this.has('lastActive', Date);
});

export const Message = model('Message', function () {
  this.has('author', User);
  this.has('postedAt', Date);
  this.has('text', String);
});

export const ChatRoomAttributes = model('ChatRoomAttributes', function () {
  this.has('status', ChatRoomStatus);
  this.has('topic', String);
  this.has('tintColor', Number);
  this.has('locale', String);
});

export const ChatRoom = model('ChatRoom', function () {
  this.has('name', String);
  this.has('attributes', ChatRoomAttributes);
  this.has('users', [User]);
  this.has('messages', [Message]);
});
